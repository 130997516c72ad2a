"""
C{smtpeter admin}: the dashboard's users.
"""

from __future__ import annotations

import json
from pathlib import Path

from ...config import DASHBOARD, DASHBOARD_URL_FILE
from ...runtime import dashboardUrls
from ...store import ADMIN_ROLE as ADMIN
from ...store import ROLES
from .. import Administration
from ._output import printList, when


def run(admin: Administration, args) -> None:
    """The dashboard's users."""
    if args.action in ("create", "reset-password"):
        made = (
            admin.createAdmin(args.name, args.role)
            if args.action == "create"
            else admin.resetAdminPassword(args.name)
        )
        if args.json:
            print(json.dumps(made))
            return
        verb = "created dashboard user" if args.action == "create" else "new password for"
        print(f"{verb} {made['name']} ({made['role']})")
        print(f"  password: {made['password']}")
        print(f"This password is shown only now. {_whereToLogIn(admin.data)}")
    elif args.action == "list":
        printList(
            admin.listAdmins(),
            args.json,
            "no dashboard users yet; create one with: smtpeter admin create NAME",
            lambda u: (
                f"{u['name']}  {u['role']}  created {when(u['created'])}"
                f"  last log-in {when(u['last_login'])}"
            ),
        )
    elif args.action == "delete":
        admin.deleteAdmin(args.name)
        print(f"deleted dashboard user {args.name}")


def _whereToLogIn(data: Path) -> str:
    """Where to log in: the dashboard's address the gateway recorded when it last started."""
    try:
        urls = (data / DASHBOARD_URL_FILE).read_text().split()
    except OSError:
        return (
            f"Log in to the dashboard with it at {dashboardUrls('', (DASHBOARD,))[0]}"
            " (the default --dashboard; a gateway started on this data directory records"
            " its own address)."
        )
    if not urls:
        return "The gateway runs with --dashboard none: give it a --dashboard listener to log in."
    return f"Log in to the dashboard with it at {' or '.join(urls)}."


def addParser(sub) -> None:
    """Add the C{admin} command to C{sub}, the subparsers of C{smtpeter}."""
    users = sub.add_parser(
        "admin",
        help="manage the dashboard's users",
        description="Users of the dashboard: an admin may change what the CLI changes; a"
        " viewer sees everything and changes nothing. Passwords are generated and shown once.",
    )
    userActions = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    userCreate = userActions.add_parser("create", help="make a user and print its password once")
    userCreate.add_argument("name", help="the name to log in with")
    userCreate.add_argument(
        "--role", choices=ROLES, default=ADMIN, help="admin or viewer [default: admin]"
    )
    userReset = userActions.add_parser(
        "reset-password", help="a new password, printed once (the old one stops working)"
    )
    userReset.add_argument("name", help="the user's name (see 'smtpeter admin list')")
    for command in (userCreate, userReset):
        command.add_argument(
            "--json", action="store_true", help="print one JSON object: name, password, role"
        )
    userActions.add_parser("list", help="users, roles, last log-in").add_argument(
        "--json", action="store_true", help="print a JSON array"
    )
    userActions.add_parser("delete", help="delete a user").add_argument(
        "name", help="the user's name (see 'smtpeter admin list')"
    )
