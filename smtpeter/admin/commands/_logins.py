"""
C{smtpeter login}: SMTP logins, their passwords and features.
"""

from __future__ import annotations

import argparse
import json

from ...store import NONE, OVER_QUOTA, QUOTA_PERIODS, RATE_PERIODS, StoreError, knownFeatures
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
        f"  last used {when(login['last_used'])}{_limits(login)}"
    )


def _limits(login: dict) -> str:
    """The login's limits with what it has used of them, and its sender domains."""
    shown = ""
    usage = login.get("usage") or {}
    for name in ("rate", "quota"):
        used = usage.get(name)
        if used is not None:
            shown += f"  {name} {used['used']}/{used['limit']} this {used['period']}"
        elif login.get(name):
            shown += f"  {name} {login[name]}"
    if login.get("quota") and login.get("over_quota") == "hold":
        shown += " (then held)"
    if login.get("sender_domains"):
        shown += f"  senders @{' @'.join(login['sender_domains'])}"
    return shown


def _limitChanges(args) -> dict:
    """The limits the options give (those not given are left as they are)."""
    changes = {
        "rate": args.rate,
        "quota": args.quota,
        "overQuota": args.over_quota,
        "senderDomains": args.sender_domain,
    }
    return {k: v for k, v in changes.items() if v is not None}


def _printPassword(login: dict, asJSON: bool, verb: str) -> None:
    if asJSON:
        print(json.dumps(login))
        return
    print(f"{verb} login {login['name']}")
    print(f"  password: {login['password']}")
    print(f"  features: {' '.join(login['features']) or '(none)'}")
    if _limits(login):
        print(f"  limits:{_limits(login)}")
    if login.get("hold"):
        print("  hold mode: its mail is kept and shown in the dashboard, never delivered")
    print("This password is shown only now; store it in your mail client or application.")


def run(admin: Administration, args) -> None:
    if args.action in ("create", "add"):
        login = admin.createLogin(args.name, args.feature, args.hold, _limitChanges(args))
        _printPassword(login, args.json, "created")
    elif args.action == "show":
        login = admin.login(args.name)
        print(json.dumps(login, indent=2) if args.json else _show(login))
    elif args.action == "list":
        printList(
            admin.listLogins(),
            args.json,
            "no logins yet; create one with: smtpeter login create NAME",
            _show,
        )
    elif args.action == "update":
        limits = _limitChanges(args)
        if (
            not args.enable
            and not args.disable
            and args.public_url is None
            and args.hold is None
            and not limits
        ):
            raise StoreError(
                "say what to change: --enable FEATURE, --disable FEATURE, --public-url URL,"
                " --hold/--no-hold, --rate, --quota, --over-quota or --sender-domain"
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
            limits=limits,
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

    create = actions.add_parser(
        "create", aliases=["add"], help="create a login and print its password once"
    )
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
    _limitOptions(create)
    create.add_argument(
        "--json", action="store_true", help="print one JSON object with name, password, features"
    )

    show = actions.add_parser(
        "show", help="show a login: its features, limits with their current usage, sender domains"
    )
    show.add_argument("name", help="the login's name (see 'smtpeter login list')")
    show.add_argument("--json", action="store_true", help="print one JSON object")

    listing = actions.add_parser("list", help="list logins (never passwords)")
    listing.add_argument("--json", action="store_true", help="print a JSON array")

    update = actions.add_parser(
        "update", help="turn features on or off, set the click domain, limits and sender domains"
    )
    update.add_argument("name", help="the login's name (see 'smtpeter login list')")
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
    _limitOptions(update)

    for name, text in (
        ("enable", "allow a login to send again"),
        ("disable", "refuse AUTH for a login (its password is kept)"),
        ("delete", "delete a login"),
    ):
        actions.add_parser(name, help=text).add_argument(
            "name", help="the login's name (see 'smtpeter login list')"
        )

    reset = actions.add_parser("reset-password", help="replace a login's password; prints it once")
    reset.add_argument("name", help="the login's name (see 'smtpeter login list')")
    reset.add_argument(
        "--json", action="store_true", help="print one JSON object with name, password, features"
    )


def _limitOptions(parser) -> None:
    """The options of a login's limits and sender domains (create and update)."""
    rates = "|".join(f"N/{p}" for p in RATE_PERIODS)
    quotas = "|".join(f"N/{p}" for p in QUOTA_PERIODS)
    parser.add_argument(
        "--rate",
        metavar=rates.upper(),
        help=f"at most N recipients a minute or an hour ({rates}), counted across workers;"
        f" over it RCPT gets 451 4.7.1 (try later). '{NONE}' lifts it",
    )
    parser.add_argument(
        "--quota",
        metavar=quotas.upper(),
        help=f"at most N recipients a UTC day or month ({quotas}), counted across workers;"
        f" over it RCPT gets 550 5.7.1 quota exceeded (or see --over-quota). '{NONE}' lifts it",
    )
    parser.add_argument(
        "--over-quota",
        choices=OVER_QUOTA,
        help="over the quota: refuse the recipients (550 5.7.1, the default) or hold the"
        " mail, accepted and kept until released (POST /v1/messages/ID/release, the"
        " dashboard's queue page)",
    )
    parser.add_argument(
        "--sender-domain",
        action="append",
        metavar="DOMAIN",
        help="the envelope sender (MAIL FROM) and From: addresses must be in this domain or"
        " under it; repeatable, the list replaces the login's. 550 5.7.1 otherwise."
        f" '{NONE}' clears it: any sender (the default)",
    )
