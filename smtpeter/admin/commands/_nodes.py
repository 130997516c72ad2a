"""
C{smtpeter nodes}: the gateway's nodes, each with its heartbeat, workers
and the messages its workers hold, and the queue's counts (the same as
C{GET /v1/nodes}).
"""

from __future__ import annotations

import json

from .. import Administration


def run(admin: Administration, args) -> None:
    if args.node:
        admin.node = args.node
    found = admin.nodes()
    if args.json:
        print(json.dumps(found, indent=2))
        return
    if not found["nodes"]:
        print("no nodes seen yet; a node appears once it runs (twistd smtpeter --node NAME)")
    for node in found["nodes"]:
        byWorker = ", ".join(f"{w}: {n}" for w, n in node["claimed_by_worker"].items())
        print(
            f"{node['name']}  {node['status']}  last seen {node['seen'] or 'never'}"
            f"  {node['workers']} workers  {node['claimed']} claimed"
            + (f" ({byWorker})" if byWorker else "")
            + f"  on {node['host']}"
            + (f", pid {node['pid']}" if node["pid"] is not None else "")
        )
    print(f"queue: {found['queued']} queued, {found['held']} held")


def addParser(sub) -> None:
    """Add the C{nodes} command to C{sub}, the subparsers of C{smtpeter}."""
    nodes = sub.add_parser(
        "nodes",
        help="list the gateway's nodes and the queue's counts",
        description="List the gateway's nodes: each one's last heartbeat (down when not seen"
        " for 3 leases), workers and the messages its workers hold now, and the messages"
        " queued and held. On SQLite, the one node of this data directory.",
    )
    nodes.add_argument(
        "--node",
        metavar="NAME",
        default="",
        help="on SQLite, the name to show for this node, as the gateway's --node"
        " [default: the host name]",
    )
    nodes.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object: nodes, queued, held (as GET /v1/nodes)",
    )
