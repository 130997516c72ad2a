"""
C{smtpeter queue}: the queue (every worker's spool, or the queue the nodes
on PostgreSQL share), and requests to retry or delete a message.
"""

from __future__ import annotations

import json

from .. import Administration
from ._output import when


def run(admin: Administration, args) -> None:
    """
    The queue, each message marked with the worker that holds it (its
    spool's, or the one whose claim holds now) and whether it is held;
    requests.
    """
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
            f"{entry['qid']}  {when(entry['received'])}  <{entry['sender']}>"
            f"  {entry['size']} bytes{'  (DSN)' if entry['dsn'] else ''}  {_holder(entry)}"
        )
        for r in entry["recipients"]:
            line = f"    {r['address']}  {r['status']}  attempts={r['attempts']}"
            if r["status"] == "pending" and r["next_attempt"]:
                line += f"  next {when(r['next_attempt'])}"
            if r["last"]:
                line += f"  last: {r['last']}"
            print(line)
    held = sum(1 for entry in entries if entry["held"])
    print(f"{len(entries)} message(s) in the queue{f' ({held} held)' if held else ''}")


def _holder(entry: dict) -> str:
    """
    Who has the message in hand: on one machine, the worker whose spool
    keeps it; in the shared queue (its entries name an C{owner}), the
    worker whose claim holds now, if any (held mail is nobody's).
    """
    if "owner" not in entry:
        where = f"worker {entry['worker']}"
    elif entry["owner"]:
        where = f"claimed by {entry['owner']}"
    else:
        where = "" if entry["held"] else "not claimed"
    return "  ".join(part for part in ("held" if entry["held"] else "", where) if part)


def addParser(sub) -> None:
    """Add the C{queue} command to C{sub}, the subparsers of C{smtpeter}."""
    queue = sub.add_parser(
        "queue",
        help="look at the delivery queue",
        description="Look at the messages waiting for delivery.",
    )
    queueActions = queue.add_subparsers(dest="action", required=True, metavar="ACTION")
    queueList = queueActions.add_parser(
        "list",
        help="messages not yet finished (in every worker's spool; on PostgreSQL, in the"
        " shared queue), each with the worker that holds it, whether it is held, and each"
        " recipient's state and last error",
    )
    queueList.add_argument("--json", action="store_true", help="print a JSON array")
    for action, text in (
        (
            "retry",
            "attempt a message's pending recipients now; held mail stays held, for release"
            " in the API or the dashboard",
        ),
        ("delete", "take a message out of the queue; its sender gets a DSN where one is due"),
    ):
        said = f"{text} (the running gateway does it within a second)"
        command = queueActions.add_parser(action, help=said, description=said)
        command.add_argument("id", help="the message id, as queue list shows it")
        command.add_argument("--json", action="store_true", help="print the request as JSON")
