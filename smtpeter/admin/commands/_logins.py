"""
C{smtpeter login}: SMTP logins, their passwords and features.
"""

from __future__ import annotations

import argparse
import json

from ...store import StoreError, knownFeatures
from .. import Administration
from ._output import printList, when


def _show(login: dict) -> str:
    state = "enabled" if login["enabled"] else "disabled"
    features = " ".join(login["features"]) or "(no features)"
    clicks = f"  links via {login['public_url']}" if login["public_url"] else ""
    if login.get("hold"):
        clicks += "  HOLDS its mail"
    return (
        f"{login['name']}  {state}  {features}{clicks}  created {when(login['created'])}"
        f"  last used {when(login['last_used'])}"
    )


def _printPassword(login: dict, asJSON: bool, verb: str) -> None:
    if asJSON:
        print(json.dumps(login))
        return
    print(f"{verb} login {login['name']}")
    print(f"  password: {login['password']}")
    print(f"  features: {' '.join(login['features']) or '(none)'}")
    if login.get("hold"):
        print("  hold mode: its mail is kept and shown in the dashboard, never delivered")
    print("This password is shown only now; store it in your mail client or application.")


def run(admin: Administration, args) -> None:
    if args.action == "create":
        _printPassword(admin.createLogin(args.name, args.feature, args.hold), args.json, "created")
    elif args.action == "list":
        printList(
            admin.listLogins(),
            args.json,
            "no logins yet; create one with: smtpeter login create NAME",
            _show,
        )
    elif args.action == "update":
        if not args.enable and not args.disable and args.public_url is None and args.hold is None:
            raise StoreError(
                "say what to change: --enable FEATURE, --disable FEATURE, --public-url URL"
                " or --hold/--no-hold"
            )
        publicUrl = args.public_url
        if publicUrl is not None and publicUrl.lower() == "default":
            publicUrl = ""
        login = admin.updateLogin(
            args.name,
            enable=args.enable,
            disable=args.disable,
            publicUrl=publicUrl,
            hold=args.hold,
        )
        print(_show(login))
    elif args.action in ("enable", "disable"):
        print(_show(admin.updateLogin(args.name, enabled=args.action == "enable")))
    elif args.action == "reset-password":
        _printPassword(admin.resetPassword(args.name), args.json, "new password for")
    elif args.action == "delete":
        admin.deleteLogin(args.name)
        print(f"deleted login {args.name}")


def addParser(sub) -> None:
    """Add the C{login} command to C{sub}, the subparsers of C{smtpeter}."""
    features = ", ".join(knownFeatures())
    login = sub.add_parser(
        "login",
        help="manage SMTP logins",
        description="Manage SMTP logins: the names and passwords that"
        " mail clients use for AUTH, each with its own features.",
    )
    actions = login.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = actions.add_parser("create", help="create a login and print its password once")
    create.add_argument("name", help="login name (used as the AUTH user name)")
    create.add_argument(
        "--feature",
        action="append",
        default=[],
        metavar="F",
        help=f"turn on a feature; repeatable. One of: {features}",
    )
    create.add_argument(
        "--hold",
        action="store_true",
        help="hold mode, for development: its mail is accepted and kept, never delivered,"
        " until released (GET /v1/messages/ID shows it)",
    )
    create.add_argument(
        "--json", action="store_true", help="print one JSON object with name, password, features"
    )

    listing = actions.add_parser("list", help="list logins (never passwords)")
    listing.add_argument("--json", action="store_true", help="print a JSON array")

    update = actions.add_parser("update", help="turn features on or off, set the click domain")
    update.add_argument("name")
    update.add_argument(
        "--public-url",
        metavar="URL",
        help="base URL of this login's tracking links and hosted images, e.g. a CNAME under"
        " the customer's domain (https://click.customer.example); 'default' goes back to"
        " the gateway's --public-url",
    )
    update.add_argument(
        "--enable",
        action="append",
        default=[],
        metavar="F",
        help=f"turn a feature on; repeatable. One of: {features}",
    )
    update.add_argument(
        "--disable", action="append", default=[], metavar="F", help="turn a feature off; repeatable"
    )
    update.add_argument(
        "--hold",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="hold this login's mail from now on (--no-hold: deliver it again)",
    )

    for name, text in (
        ("enable", "allow a login to send again"),
        ("disable", "refuse AUTH for a login (its password is kept)"),
        ("delete", "delete a login"),
    ):
        actions.add_parser(name, help=text).add_argument("name")

    reset = actions.add_parser("reset-password", help="replace a login's password; prints it once")
    reset.add_argument("name")
    reset.add_argument(
        "--json", action="store_true", help="print one JSON object with name, password, features"
    )
