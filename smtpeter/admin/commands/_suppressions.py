"""
C{smtpeter suppression}: the addresses mail is no longer attempted to, and their
import and export as CSV.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import sys
import time
from datetime import UTC, datetime

from ...csvfile import CSVWriter, uncell
from ...store import MANUAL, Invalid, LoginStore, StoreError, SuppressionStore, suppressionExpiry
from ._output import when

#: The longest line 'suppression import' reads, in bytes (an address is at most 320).
MAX_IMPORT_LINE = 1000


def run(db: sqlite3.Connection, args) -> None:
    """The suppression list is the store's, written directly (not through the administration)."""
    store = SuppressionStore(db)
    now = time.time()
    expires = suppressionExpiry(now, args.days) if hasattr(args, "days") else None
    login = getattr(args, "login", None)
    if args.action == "add":
        if login is not None and LoginStore(db).get(login) is None:
            # Only a login's own mail is suppressed by it; deleting and listing take any name.
            raise Invalid("login", f"no login named {login!r}; see 'smtpeter login list'")
        entry = store.add(args.address, args.reason, now, expires, login=login)
        if args.json:
            print(json.dumps(entry.toJSON()))
            return
        print(
            f"suppressed {entry.address} ({entry.reason}) {_scope(entry.login)},"
            f" {_until(entry.expires)}"
        )
    elif args.action == "delete":
        store.delete(args.address, login)
        if args.json:
            print(json.dumps({"email": args.address, "deleted": True, "login": login}))
            return
        print(f"{args.address} is no longer suppressed {_scope(login, 'anywhere')}")
    elif args.action == "list":
        entries = store.list(now, login)
        if args.json:
            print(json.dumps([e.toJSON() for e in entries], indent=2))
        elif not entries:
            print("no suppressed addresses")
        for e in entries if not args.json else ():
            because = f" (message {e.qid})" if e.qid else ""
            print(
                f"{e.address}  {_scope(e.login)}  {e.reason}{because}  since {when(e.created)}"
                f"  {_until(e.expires)}"
            )
    elif args.action == "export":
        exported = [e.toJSON() for e in store.list(now)]
        if args.json:
            print(json.dumps(exported, indent=2))
            return
        columns = ["email", "reason", "created", "expires", "messageid", "login"]
        out = CSVWriter(sys.stdout)
        out.writerow(columns)
        out.writerows([e[c] for c in columns] for e in exported)
    elif args.action == "import":
        try:
            with open(args.file, "rb") as f:
                count = store.importEntries(_importLines(f, args.reason), now, expires)
        except OSError as e:
            raise StoreError(f"cannot read {args.file}: {e.strerror or e}") from e
        except StoreError as e:
            raise StoreError(f"{args.file}, {e}") from e
        if args.json:
            print(json.dumps({"imported": count}))
            return
        print(f"suppressed {count} {'entry' if count == 1 else 'entries'} from {args.file}")


def _importLines(f, reason: str):
    """
    C{(line, address, reason)} for each entry of a suppression file, read a
    line at a time (at most L{MAX_IMPORT_LINE} bytes, so any file is read in
    bounded memory); a line that cannot be read is a L{StoreError} naming it.
    """
    number = 0
    while raw := f.readline(MAX_IMPORT_LINE + 2):
        number += 1
        if len(raw.rstrip(b"\r\n")) > MAX_IMPORT_LINE:
            raise StoreError(
                f"line {number} is longer than {MAX_IMPORT_LINE} bytes (one address, and"
                " optionally a reason, per line); nothing was imported"
            )
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            row = next(csv.reader([text]), [])
        except (UnicodeDecodeError, csv.Error) as e:
            raise StoreError(f"line {number}: not a line of UTF-8 CSV ({e}); nothing was imported")
        cells = [uncell(c).strip() for c in row]
        if not cells or not cells[0] or cells[0].lower() == "email":
            continue
        found = cells[1] if len(cells) > 1 and cells[1] else reason
        # export's columns: email,reason,created,expires,messageid,login
        login = cells[5] if len(cells) > 5 else ""
        if len(cells) > 3:  # the row's own expiry (empty: for ever), not --days
            yield number, cells[0], found, login, _expiry(number, cells[3])
        else:
            yield number, cells[0], found, login


def _expiry(number: int, text: str) -> float | None:
    """An export's C{expires}: an ISO 8601 time, or empty for ever."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise StoreError(
            f"line {number}: expires: {text!r} is not an ISO 8601 time (as export writes it),"
            " nor empty for ever; nothing was imported"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _scope(login: str | None, everywhere: str = "for every login") -> str:
    return everywhere if login is None else f"for login {login}"


def _until(expires: float | None) -> str:
    return "for ever" if expires is None else f"until {when(expires)}"


def addParser(sub) -> None:
    """Add the C{suppression} command to C{sub}, the subparsers of C{smtpeter}."""
    suppression = sub.add_parser(
        "suppression",
        help="manage the suppression list",
        description="Addresses that mail is no longer attempted to: a hard bounce or a"
        " complaint puts an address here (for --suppression-days), and so can you. Mail to a"
        " suppressed address is recorded as a failure with reason 'suppressed' (and a DSN where"
        " the sender asked for one); X-Smtpeter-IgnoreSuppression: true overrides it for one"
        " message. An entry is for every login's mail, or for one login's (--login): a"
        " recipient's one-click unsubscribe stops only that login's mail to it (reason"
        " 'unsubscribed').",
    )
    suppressionActions = suppression.add_subparsers(dest="action", required=True, metavar="ACTION")
    suppressionAdd = suppressionActions.add_parser("add", help="suppress an address")
    suppressionAdd.add_argument("address", help="the recipient address")
    suppressionDelete = suppressionActions.add_parser(
        "delete", help="take an address off the list (mail to it is attempted again)"
    )
    suppressionDelete.add_argument("address", help="the recipient address")
    suppressionDelete.add_argument(
        "--login",
        help="take off only this login's entry (an unsubscribe) [default: every entry of it]",
    )
    suppressionAdd.add_argument(
        "--login",
        help="suppress for this login's mail only (one that exists) [default: every login's]",
    )
    suppressionImport = suppressionActions.add_parser(
        "import",
        help="suppress the addresses in a CSV file (email[,reason] per line), all or none",
        description="Suppress every address in a CSV file, or, if any line is wrong, none:"
        " the error names the line. Lines of at most 1000 bytes; a header line is skipped."
        " The gateway may keep running: the entries go in 2,000 at a time.",
    )
    suppressionImport.add_argument(
        "file",
        help="CSV: an address per line, optionally a reason (as export writes it, whose"
        " fourth column, expires, and sixth, login, are kept);"
        " /dev/stdin reads standard input",
    )
    for command, lines in (
        (suppressionAdd, ("", "")),
        (suppressionImport, (" (lines without their own)", " (lines without an expires column)")),
    ):
        command.add_argument(
            "--reason",
            default=MANUAL,
            help=f"why, as the list shows it{lines[0]} [default: {MANUAL}]",
        )
        command.add_argument(
            "--days",
            type=float,
            default=0,
            help=f"suppress for this many days, up to 36500{lines[1]} [default: 0, for ever]",
        )
    suppressionAdd.add_argument("--json", action="store_true", help="print the entry as JSON")
    suppressionDelete.add_argument(
        "--json", action="store_true", help='print {"email", "deleted"} as JSON'
    )
    suppressionImport.add_argument(
        "--json",
        action="store_true",
        help='print {"imported": N} as JSON (N entries: an address in one scope)',
    )
    suppressionList = suppressionActions.add_parser(
        "list", help="the suppressed addresses, for which login, why, and until when"
    )
    suppressionList.add_argument("--json", action="store_true", help="print a JSON array")
    suppressionList.add_argument("--login", help="only this login's entries (its unsubscribes)")
    suppressionActions.add_parser(
        "export",
        help="the list as CSV (email,reason,created,expires,messageid,login), for import",
    ).add_argument("--json", action="store_true", help="a JSON array instead of CSV")
