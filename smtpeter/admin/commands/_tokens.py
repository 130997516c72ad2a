"""
C{smtpeter token}: bearer tokens of the REST API.
"""

from __future__ import annotations

import json

from ...store import READ_SCOPE as READ
from ...store import SCOPES
from .. import Administration
from ._output import printList, when


def run(admin: Administration, args) -> None:
    if args.action == "create":
        made = admin.createToken(args.name, args.scope, args.login)
        if args.json:
            print(json.dumps(made))
            return
        sendsAs = f", sends as login {made['login']}" if made["login"] else ""
        print(f"created API token {made['name']} ({made['scope']}{sendsAs})")
        print(f"  token: {made['token']}")
        print("This token is shown only now. Send it as: Authorization: Bearer TOKEN")
    elif args.action == "list":
        printList(
            admin.listTokens(),
            args.json,
            "no API tokens yet; create one with: smtpeter token create NAME",
            lambda t: (
                f"{t['name']}  {t['scope']}"
                + (f" (login {t['login']})" if t["login"] else "")
                + f"  created {when(t['created'])}"
                f"  last used {when(t['last_used'])}"
            ),
        )
    elif args.action == "delete":
        admin.deleteToken(args.name)
        print(f"deleted API token {args.name}")


def addParser(sub) -> None:
    """Add the C{token} command to C{sub}, the subparsers of C{smtpeter}."""
    token = sub.add_parser(
        "token",
        help="manage REST API tokens",
        description="Manage the bearer tokens of the REST API (/v1). A token is shown once,"
        " when made; only its hash is kept.",
    )
    tokenActions = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    tokenCreate = tokenActions.add_parser("create", help="make a token and print it once")
    tokenCreate.add_argument("name", help="what the token is for, e.g. reporting")
    tokenCreate.add_argument(
        "--scope",
        choices=SCOPES,
        default=READ,
        help="read: events, messages and lists; admin: changes too; send: only POST /v1/send,"
        " as the login given with --login [default: read]",
    )
    tokenCreate.add_argument(
        "--login",
        metavar="LOGIN",
        help="the login a send token sends as (its features, hold mode, limits and sender"
        " domains apply); only with --scope send",
    )
    tokenCreate.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object with name, token, scope and login",
    )
    tokenList = tokenActions.add_parser("list", help="list tokens (names and use, never tokens)")
    tokenList.add_argument("--json", action="store_true", help="print a JSON array")
    tokenActions.add_parser("delete", help="revoke a token").add_argument(
        "name", help="the token's name (see 'smtpeter token list')"
    )
