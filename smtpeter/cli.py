"""
``smtpeter``: administration of a gateway's data directory (SMTP logins,
DKIM domains, the queue). Changes reach a running gateway without a restart:
it reads logins at every AUTH and DKIM keys every few seconds.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sqlite3
import sys
import time
from pathlib import Path

from . import __version__
from .admin import Administration, UnusableSpool
from .config import DASHBOARD, DASHBOARD_URL_FILE, Config, dashboardUrls
from .csvfile import CSVWriter, uncell
from .events import Destinations, parseNetwork
from .process import createDatabase
from .runtime import explain, isDamaged, isFull, recovery
from .store import Invalid, StoreError, connect, suppressionExpiry
from .store._admins import ADMIN, ROLES
from .store._apitokens import READ, SCOPES
from .store._events import TYPES
from .store._logins import knownFeatures
from .store._suppressions import MANUAL, SuppressionStore

DATABASE = "smtpeter.sqlite"
#: The longest line 'suppression import' reads, in bytes (an address is at most 320).
MAX_IMPORT_LINE = 1000
#: The option that gives what the store (and the REST API) calls a field;
#: fields not here are the command's arguments.
OPTIONS = {
    "events": "--event",
    "public_url": "--public-url",
    "selector": "--selector",
    "scope": "--scope",
    "role": "--role",
    "days": "--days",
    "reason": "--reason",
}


def _when(stamp: float | None) -> str:
    return "never" if stamp is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


def _show(login: dict) -> str:
    state = "enabled" if login["enabled"] else "disabled"
    features = " ".join(login["features"]) or "(no features)"
    clicks = f"  links via {login['public_url']}" if login["public_url"] else ""
    if login.get("hold"):
        clicks += "  HOLDS its mail"
    return (
        f"{login['name']}  {state}  {features}{clicks}  created {_when(login['created'])}"
        f"  last used {_when(login['last_used'])}"
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


def _printList(items: list[dict], asJSON: bool, empty: str, show) -> None:
    if asJSON:
        print(json.dumps(items, indent=2))
    elif not items:
        print(empty)
    else:
        for item in items:
            print(show(item))


def loginCommand(admin: Administration, args) -> None:
    if args.action == "create":
        _printPassword(admin.createLogin(args.name, args.feature, args.hold), args.json, "created")
    elif args.action == "list":
        _printList(
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


def _printRecord(record: dict, verb: str) -> None:
    print(f"{verb} DKIM key for {record['domain']} (selector {record['selector']})")
    print("Publish this DNS TXT record, then mail from the domain is signed:")
    print(f"  name:  {record['name']}")
    print(f"  value: {record['txt']}")
    print(f"  zone file line: {record['name']}. IN TXT {_zoneQuoted(record['txt'])}")


def _zoneQuoted(value: str) -> str:
    """A TXT value as quoted strings of at most 255 characters each, as DNS needs."""
    return " ".join(f'"{value[i : i + 255]}"' for i in range(0, len(value), 255))


def _showKey(key: dict) -> str:
    state = "signing" if key["active"] else "retired"
    return (
        f"{key['domain']}  {key['selector']}  {state}  created {_when(key['created'])}\n"
        f"    {key['name']} TXT {key['txt']}"
    )


def domainCommand(admin: Administration, args) -> None:
    if args.action == "list":
        _printList(
            admin.listDomains(),
            args.json,
            "no DKIM domains yet; add one with: smtpeter domain add DOMAIN",
            _showKey,
        )
        return
    if args.action == "delete":
        count = admin.deleteDomain(args.domain)["deleted"]
        print(f"deleted {count} key(s) of {args.domain}; its mail is no longer signed")
        return
    if args.action == "add":
        record = admin.addDomain(args.domain, args.selector)
        verb = "created"
    elif args.action == "rotate":
        record = admin.rotateDomain(args.domain, args.selector)
        verb = "rotated to a new"
    else:
        try:
            pem = Path(args.key).read_bytes()
        except OSError as e:
            raise StoreError(f"cannot read {args.key}: {e.strerror}") from e
        record = admin.importDomainKey(args.domain, pem, args.selector)
        verb = "imported"
    if args.json:
        print(json.dumps(record))
        return
    _printRecord(record, verb)
    if args.action == "rotate":
        print(
            "Mail is signed with the new key from now on. Keep the old record published"
            " for a few days, then remove it and run 'smtpeter domain list' to check."
        )


def tokenCommand(admin: Administration, args) -> None:
    if args.action == "create":
        made = admin.createToken(args.name, args.scope)
        if args.json:
            print(json.dumps(made))
            return
        print(f"created API token {made['name']} ({made['scope']})")
        print(f"  token: {made['token']}")
        print("This token is shown only now. Send it as: Authorization: Bearer TOKEN")
    elif args.action == "list":
        _printList(
            admin.listTokens(),
            args.json,
            "no API tokens yet; create one with: smtpeter token create NAME",
            lambda t: (
                f"{t['name']}  {t['scope']}  created {_when(t['created'])}"
                f"  last used {_when(t['last_used'])}"
            ),
        )
    elif args.action == "delete":
        admin.deleteToken(args.name)
        print(f"deleted API token {args.name}")


def adminCommand(admin: Administration, args) -> None:
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
        _printList(
            admin.listAdmins(),
            args.json,
            "no dashboard users yet; create one with: smtpeter admin create NAME",
            lambda u: (
                f"{u['name']}  {u['role']}  created {_when(u['created'])}"
                f"  last log-in {_when(u['last_login'])}"
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


def _showWebhook(hook: dict) -> str:
    state = "enabled" if hook["enabled"] else f"DISABLED ({hook['disabled_reason']})"
    line = f"{hook['id']}  {hook['url']}  {','.join(hook['events'])}  {state}"
    if hook["enabled"] and hook["last_error"]:
        line += f"  last error: {hook['last_error']}"
    return line


def webhookCommand(admin: Administration, args) -> None:
    if args.action == "add":
        hook = admin.addWebhook(args.url, args.event)
        if args.json:
            print(json.dumps(hook))
            return
        print(f"added webhook {hook['id']}: {hook['url']} for {', '.join(hook['events'])}")
        print(f"  signing secret: {hook['secret']}")
        print("Verify each POST with it (see docs/webhooks.md); 'webhook list' never shows it.")
    elif args.action == "list":
        _printList(
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


def suppressionCommand(store: SuppressionStore, args) -> None:
    now = time.time()
    expires = suppressionExpiry(now, args.days) if hasattr(args, "days") else None
    if args.action == "add":
        entry = store.add(args.address, args.reason, now, expires)
        if args.json:
            print(json.dumps(entry.toJSON()))
            return
        print(f"suppressed {entry.address} ({entry.reason}), {_until(entry.expires)}")
    elif args.action == "delete":
        store.delete(args.address)
        if args.json:
            print(json.dumps({"email": args.address, "deleted": True}))
            return
        print(f"{args.address} is no longer suppressed")
    elif args.action == "list":
        entries = store.list(now)
        if args.json:
            print(json.dumps([e.toJSON() for e in entries], indent=2))
        elif not entries:
            print("no suppressed addresses")
        for e in entries if not args.json else ():
            because = f" (message {e.qid})" if e.qid else ""
            print(
                f"{e.address}  {e.reason}{because}  since {_when(e.created)}  {_until(e.expires)}"
            )
    elif args.action == "export":
        entries = [e.toJSON() for e in store.list(now)]
        if args.json:
            print(json.dumps(entries, indent=2))
            return
        columns = ["email", "reason", "created", "expires", "messageid"]
        out = CSVWriter(sys.stdout)
        out.writerow(columns)
        out.writerows([e[c] for c in columns] for e in entries)
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
        print(f"suppressed {count} address(es) from {args.file}")


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
        yield number, cells[0], cells[1] if len(cells) > 1 and cells[1] else reason


def _until(expires: float | None) -> str:
    return "for ever" if expires is None else f"until {_when(expires)}"


def queueCommand(admin: Administration, args) -> None:
    """Every worker's queue, each message marked with the worker that holds it; requests."""
    if args.action == "list":
        _printQueue(admin.queue(), args)
        return
    requested = admin.requestQueueAction(args.id, args.action)
    if args.json:
        print(json.dumps(requested))
        return
    print(f"asked the gateway to {args.action} {requested['qid']}; it does so within a second")


def _printQueue(entries: list[dict], args) -> None:
    if args.json:
        print(json.dumps(entries, indent=2))
        return
    if not entries:
        print("the queue is empty")
        return
    for entry in entries:
        print(
            f"{entry['qid']}  {_when(entry['received'])}  <{entry['sender']}>"
            f"  {entry['size']} bytes{'  (DSN)' if entry['dsn'] else ''}  worker {entry['worker']}"
        )
        for r in entry["recipients"]:
            line = f"    {r['address']}  {r['status']}  attempts={r['attempts']}"
            if r["status"] == "pending" and r["next_attempt"]:
                line += f"  next {_when(r['next_attempt'])}"
            if r["last"]:
                line += f"  last: {r['last']}"
            print(line)
    print(f"{len(entries)} message(s) in the queue")


def parser() -> argparse.ArgumentParser:
    features = ", ".join(knownFeatures())
    top = argparse.ArgumentParser(
        prog="smtpeter",
        description="Administer an smtpeter gateway: SMTP logins and their features,"
        " DKIM keys for sender domains, REST API tokens, webhooks, and a look at the"
        " delivery queue."
        " Run the gateway itself with: twistd -n smtpeter",
    )
    top.add_argument("--version", action="version", version=f"smtpeter {__version__}")
    top.add_argument(
        "--data",
        default="./smtpeter-data",
        metavar="DIR",
        help="the gateway's data directory (as given to twistd smtpeter --data)"
        " [default: ./smtpeter-data]",
    )
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser(
        "init",
        help="make an empty data directory (the gateway's first start does the same)",
        description="Make the data directory given by --data, with its database and secret key,"
        " so that logins and domains can be set up before the gateway first starts."
        " A directory that already holds gateway data is left as it is.",
    )
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
    domain = sub.add_parser(
        "domain",
        help="manage DKIM keys of sender domains",
        description="Manage DKIM keys. Mail whose From domain (or a parent domain) has a"
        " key is signed after every other change. Each command that makes a key prints"
        " the DNS TXT record to publish.",
    )
    domainActions = domain.add_subparsers(dest="action", required=True, metavar="ACTION")
    jsonHelp = "print one JSON object with domain, selector, name and txt (the record's value)"
    add = domainActions.add_parser("add", help="make an RSA-2048 key for a domain")
    add.add_argument("domain")
    add.add_argument(
        "--selector", help="the DKIM selector [default: smtpeterYYYYMMDD, today's date]"
    )
    add.add_argument("--json", action="store_true", help=jsonHelp)
    imported = domainActions.add_parser(
        "import", help="install your own private key (PEM, RSA, unencrypted)"
    )
    imported.add_argument("domain")
    imported.add_argument("--key", required=True, metavar="FILE", help="the PEM private key")
    imported.add_argument("--selector", required=True, help="the selector its record is under")
    imported.add_argument("--json", action="store_true", help=jsonHelp)
    rotate = domainActions.add_parser(
        "rotate", help="sign with a new key from now on; the old one is kept as retired"
    )
    rotate.add_argument("domain")
    rotate.add_argument("--selector", help="the new key's selector [default: from the date]")
    rotate.add_argument("--json", action="store_true", help=jsonHelp)
    domainList = domainActions.add_parser(
        "list", help="domains, their selectors and the TXT records to publish"
    )
    domainList.add_argument("--json", action="store_true", help="print a JSON array")
    domainActions.add_parser("delete", help="delete a domain and all its keys").add_argument(
        "domain"
    )

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
        help="read: events, messages and lists; admin: changes too [default: read]",
    )
    tokenCreate.add_argument(
        "--json", action="store_true", help="print one JSON object with name, token and scope"
    )
    tokenList = tokenActions.add_parser("list", help="list tokens (names and use, never tokens)")
    tokenList.add_argument("--json", action="store_true", help="print a JSON array")
    tokenActions.add_parser("delete", help="revoke a token").add_argument("name")

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
        hookActions.add_parser(name, help=text).add_argument("id", type=int)

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
    userReset.add_argument("name")
    for command in (userCreate, userReset):
        command.add_argument(
            "--json", action="store_true", help="print one JSON object: name, password, role"
        )
    userActions.add_parser("list", help="users, roles, last log-in").add_argument(
        "--json", action="store_true", help="print a JSON array"
    )
    userActions.add_parser("delete", help="delete a user").add_argument("name")

    suppression = sub.add_parser(
        "suppression",
        help="manage the suppression list",
        description="Addresses that mail is no longer attempted to: a hard bounce or a"
        " complaint puts an address here (for --suppression-days), and so can you. Mail to a"
        " suppressed address is recorded as a failure with reason 'suppressed' (and a DSN where"
        " the sender asked for one); X-Smtpeter-IgnoreSuppression: true overrides it for one"
        " message.",
    )
    suppressionActions = suppression.add_subparsers(dest="action", required=True, metavar="ACTION")
    suppressionAdd = suppressionActions.add_parser("add", help="suppress an address")
    suppressionAdd.add_argument("address", help="the recipient address")
    suppressionDelete = suppressionActions.add_parser(
        "delete", help="take an address off the list (mail to it is attempted again)"
    )
    suppressionDelete.add_argument("address", help="the recipient address")
    suppressionImport = suppressionActions.add_parser(
        "import",
        help="suppress the addresses in a CSV file (email[,reason] per line), all or none",
        description="Suppress every address in a CSV file, or, if any line is wrong, none:"
        " the error names the line. Lines of at most 1000 bytes; a header line is skipped."
        " The gateway may keep running: the entries go in 2,000 at a time.",
    )
    suppressionImport.add_argument(
        "file",
        help="CSV: an address per line, optionally a reason (as export writes it);"
        " /dev/stdin reads standard input",
    )
    for command in (suppressionAdd, suppressionImport):
        command.add_argument(
            "--reason", default=MANUAL, help=f"why, as the list shows it [default: {MANUAL}]"
        )
        command.add_argument(
            "--days",
            type=float,
            default=0,
            help="suppress for this many days, up to 36500 [default: 0, for ever]",
        )
    suppressionAdd.add_argument("--json", action="store_true", help="print the entry as JSON")
    suppressionDelete.add_argument(
        "--json", action="store_true", help='print {"email", "deleted"} as JSON'
    )
    suppressionImport.add_argument(
        "--json", action="store_true", help='print {"imported": N} as JSON'
    )
    suppressionActions.add_parser(
        "list", help="the suppressed addresses, why, and until when"
    ).add_argument("--json", action="store_true", help="print a JSON array")
    suppressionActions.add_parser(
        "export", help="the list as CSV (email,reason,created,expires,messageid), for import"
    ).add_argument("--json", action="store_true", help="a JSON array instead of CSV")

    queue = sub.add_parser(
        "queue",
        help="look at the delivery queue",
        description="Look at the messages waiting for delivery.",
    )
    queueActions = queue.add_subparsers(dest="action", required=True, metavar="ACTION")
    queueList = queueActions.add_parser(
        "list",
        help="messages not yet finished, in every worker's spool, with each recipient's"
        " state and last error",
    )
    queueList.add_argument("--json", action="store_true", help="print a JSON array")
    for action, text in (
        ("retry", "attempt a message's pending recipients now"),
        ("delete", "take a message out of the queue; its sender gets a DSN where one is due"),
    ):
        command = queueActions.add_parser(
            action, help=f"{text} (the running gateway does it within a second)"
        )
        command.add_argument("id", help="the message id, as queue list shows it")
        command.add_argument("--json", action="store_true", help="print the request as JSON")
    return top


def initCommand(data: Path) -> None:
    config = Config(data=data, hostname="localhost")
    if config.database.is_file():
        print(f"{data} already holds gateway data; nothing changed")
        return
    createDatabase(config)
    print(
        f"made a gateway data directory in {data.resolve()};"
        f" start the gateway with: twistd -n smtpeter --data {data}"
    )


def _fail(message: str, code: int = 1) -> int:
    print(f"smtpeter: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    data = Path(args.data)
    if data.exists() and not data.is_dir():
        return _fail(f"--data {data} is not a directory", 2)
    if args.command != "init" and not (data / DATABASE).is_file():
        return _fail(
            f"{data.resolve()} holds no gateway data (no {DATABASE}); point --data at the"
            " directory the gateway runs with (twistd smtpeter --data DIR),"
            f" or make one with: smtpeter --data {args.data} init",
            2,
        )
    try:
        code = _run(data, args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, without Python's
        # second complaint when it flushes stdout on the way out.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return _fail("output closed before it was all written (broken pipe)")
    except UnusableSpool as e:
        if isDamaged(e.why):
            return _fail(
                f"cannot read the spool database {e.path}: {e.why} (it is damaged);"
                f" {recovery(e.path)}"
            )
        return _fail(
            f"cannot read the spool database {e.path}: {e.why}; run this as the user the"
            " gateway runs as (if the file is damaged, the gateway's log says so at its start)"
        )
    except (sqlite3.Error, OSError) as e:
        if isDamaged(e) or isFull(e):
            # Not a question of permissions: no hint about users.
            return _fail(f"cannot use {data / DATABASE}: {explain(data / DATABASE, e)}")
        if not isinstance(e, (sqlite3.Error, PermissionError)):
            raise
        return _fail(
            f"cannot use {data / DATABASE}: {e}; run this as the user the gateway"
            " runs as, or give that user write access to the directory"
        )


def _run(data: Path, args) -> int:
    try:
        if args.command == "init":
            initCommand(data)
            return 0
        allowed = [parseNetwork(n) for n in getattr(args, "webhook_allow_network", [])]
        db = connect(data / DATABASE)
        admin = Administration(db, data=data, destinations=Destinations(allowed))
        if args.command == "queue":
            queueCommand(admin, args)
            return 0
        if args.command == "login":
            loginCommand(admin, args)
        elif args.command == "domain":
            domainCommand(admin, args)
        elif args.command == "token":
            tokenCommand(admin, args)
        elif args.command == "webhook":
            webhookCommand(admin, args)
        elif args.command == "admin":
            adminCommand(admin, args)
        elif args.command == "suppression":
            suppressionCommand(SuppressionStore(db), args)
    except Invalid as e:
        option = OPTIONS.get(e.field)
        return _fail(f"{option}: {e.reason}" if option else e.reason)
    except (StoreError, ValueError) as e:
        return _fail(_withHint(e))
    return 0


def _withHint(error: Exception) -> str:
    """The error's text and, if the store gives a hint, the command that helps."""
    hint = getattr(error, "hint", None)
    if hint is None:
        return str(error)
    if hint.action == "rotate":
        return f"{error}: use 'smtpeter domain rotate {hint.subject}' for a new one"
    return f"{error}; see 'smtpeter {hint.subject} list'"


if __name__ == "__main__":
    sys.exit(main())
