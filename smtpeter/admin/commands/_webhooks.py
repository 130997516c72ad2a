"""
C{smtpeter webhook}: where events are POSTed.
"""

from __future__ import annotations

import json

from ...store import EVENT_TYPES as TYPES
from .. import Administration
from ._output import printList


def _showWebhook(hook: dict) -> str:
    state = "enabled" if hook["enabled"] else f"DISABLED ({hook['disabled_reason']})"
    line = f"{hook['id']}  {hook['url']}  {','.join(hook['events'])}  {state}"
    if hook["enabled"] and hook["last_error"]:
        line += f"  last error: {hook['last_error']}"
    return line


def run(admin: Administration, args) -> None:
    if args.action == "add":
        hook = admin.addWebhook(args.url, args.event)
        if args.json:
            print(json.dumps(hook))
            return
        print(f"added webhook {hook['id']}: {hook['url']} for {', '.join(hook['events'])}")
        print(f"  signing secret: {hook['secret']}")
        print("Verify each POST with it (see docs/webhooks.md); 'webhook list' never shows it.")
    elif args.action == "list":
        printList(
            admin.listWebhooks(),
            args.json,
            "no webhooks yet; add one with: smtpeter webhook add URL --event click",
            _showWebhook,
        )
    elif args.action == "delete":
        admin.deleteWebhook(args.id)
        print(f"deleted webhook {args.id}")
    elif args.action == "enable":
        print(_showWebhook(admin.enableWebhook(args.id)))


def addParser(sub) -> None:
    """Add the C{webhook} command to C{sub}, the subparsers of C{smtpeter}."""
    webhook = sub.add_parser(
        "webhook",
        help="manage webhooks",
        description="Manage webhooks: each event of the chosen kinds is POSTed as JSON to the"
        " URL, signed with HMAC-SHA256, and retried with backoff for a day.",
    )
    hookActions = webhook.add_subparsers(dest="action", required=True, metavar="ACTION")
    hookAdd = hookActions.add_parser("add", help="add a webhook; prints its signing secret")
    hookAdd.add_argument("url", help="where to POST, http:// or https://")
    hookAdd.add_argument(
        "--event",
        action="append",
        default=[],
        metavar="TYPE",
        help=f"an event kind to send; repeatable. One of: {', '.join(TYPES)}",
    )
    hookAdd.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (id, url, events, secret, ...)",
    )
    hookAdd.add_argument(
        "--webhook-allow-network",
        action="append",
        default=[],
        metavar="CIDR",
        help="a network (e.g. 10.0.0.0/8) the URL may lead to besides public addresses, as"
        " given to the gateway's --webhook-allow-network; repeatable. Without it, a URL"
        " whose host is or resolves to a loopback, link-local, private, multicast or"
        " reserved address is refused",
    )
    hookList = hookActions.add_parser(
        "list", help="webhooks, their events and state (with why one was disabled)"
    )
    hookList.add_argument("--json", action="store_true", help="print a JSON array")
    for name, text in (
        ("delete", "delete a webhook and its waiting deliveries"),
        ("enable", "enable a webhook again after it was disabled"),
    ):
        hookActions.add_parser(name, help=text).add_argument(
            "id", type=int, help="the webhook's number (see 'smtpeter webhook list')"
        )
