"""
``smtpeter``: administration of a gateway's data directory (SMTP logins).
Changes reach a running gateway at once: it reads logins from the database
at every AUTH.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .queue import FEATURES
from .store import LoginRecord, LoginStore, StoreError, connect

DATABASE = "smtpeter.sqlite"


def _when(stamp: float | None) -> str:
    return "never" if stamp is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


def _show(record: LoginRecord) -> str:
    state = "enabled" if record.enabled else "disabled"
    features = " ".join(sorted(record.features)) or "(no features)"
    return (
        f"{record.name}  {state}  {features}  created {_when(record.created)}"
        f"  last used {_when(record.lastUsed)}"
    )


def _printPassword(record: LoginRecord, password: str, asJSON: bool, verb: str) -> None:
    if asJSON:
        print(
            json.dumps(
                {"name": record.name, "password": password, "features": sorted(record.features)}
            )
        )
        return
    print(f"{verb} login {record.name}")
    print(f"  password: {password}")
    print(f"  features: {' '.join(sorted(record.features)) or '(none)'}")
    print("This password is shown only now; store it in your mail client or application.")


def loginCommand(store: LoginStore, args) -> None:
    if args.action == "create":
        record, password = store.create(args.name, args.feature)
        _printPassword(record, password, args.json, "created")
    elif args.action == "list":
        records = store.list()
        if args.json:
            print(json.dumps([r.toJSON() for r in records], indent=2))
        elif not records:
            print("no logins yet; create one with: smtpeter login create NAME")
        for record in records if not args.json else ():
            print(_show(record))
    elif args.action == "update":
        if not args.enable and not args.disable:
            raise StoreError("say what to change: --enable FEATURE and/or --disable FEATURE")
        print(_show(store.update(args.name, args.enable, args.disable)))
    elif args.action in ("enable", "disable"):
        print(_show(store.setEnabled(args.name, args.action == "enable")))
    elif args.action == "reset-password":
        record, password = store.resetPassword(args.name)
        _printPassword(record, password, args.json, "new password for")
    elif args.action == "delete":
        store.delete(args.name)
        print(f"deleted login {args.name}")


def parser() -> argparse.ArgumentParser:
    features = ", ".join(FEATURES)
    top = argparse.ArgumentParser(
        prog="smtpeter",
        description="Administer an smtpeter gateway: SMTP logins and their features."
        " Run the gateway itself with: twistd -n smtpeter",
    )
    top.add_argument(
        "--data",
        default="./smtpeter-data",
        metavar="DIR",
        help="the gateway's data directory (as given to twistd smtpeter --data)"
        " [default: ./smtpeter-data]",
    )
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
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
        "--json", action="store_true", help="print one JSON object with name, password, features"
    )

    listing = actions.add_parser("list", help="list logins (never passwords)")
    listing.add_argument("--json", action="store_true", help="print a JSON array")

    update = actions.add_parser("update", help="turn features on or off")
    update.add_argument("name")
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
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    data = Path(args.data)
    if data.exists() and not data.is_dir():
        print(f"smtpeter: --data {data} is not a directory", file=sys.stderr)
        return 2
    try:
        store = LoginStore(connect(data / DATABASE))
        if args.command == "login":
            loginCommand(store, args)
    except (StoreError, ValueError) as e:
        print(f"smtpeter: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
