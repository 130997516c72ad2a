"""
The nodes of a gateway as the administration shows them (C{GET /v1/nodes},
C{smtpeter nodes}, the dashboard's Nodes page): each node with its
heartbeat, its workers and the messages its workers hold now, and the
queue's counts.

On PostgreSQL the nodes are the rows of C{nodes} (each node writes its
heartbeat there, L{smtpeter.process}'s C{Heartbeat}); a node not seen for
3 of its leases is C{down}, and one not seen for L{RETENTION_DAYS} is no
longer listed. On SQLite one machine is one node: this one, its workers
and counts read from its spools.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from ..config import LOCK_FILE
from ._spools import queueEntries, workerSpools

#: A node not seen for this many days is no longer listed.
RETENTION_DAYS = 7

#: A node is down when its last heartbeat is older than this many of its leases.
DOWN_AFTER_LEASES = 3

#: A node's C{status}: running (seen within 3 leases), or not.
UP, DOWN = NODE_STATUSES = ("up", "down")


def _node(name, host, pid, started, seen, up, workers, claimed) -> dict:
    return {
        "name": name,
        "host": host,
        "pid": pid,
        "started": started,
        "seen": seen,
        "status": UP if up else DOWN,
        "workers": workers,
        "claimed": sum(claimed.values()),
        # Every worker, those holding nothing too.
        "claimed_by_worker": {
            str(w): n for w, n in sorted(({w: 0 for w in range(1, workers + 1)} | claimed).items())
        },
    }


def sharedNodes(db, isoTime) -> dict:
    """The nodes of the cluster and the shared queue's counts."""
    claimed: dict[str, dict[int, int]] = {}
    for owner, count in db.execute(
        # Held now: a lease run out (its worker died) is nobody's, as queue list says.
        "SELECT owner, count(*) FROM queue_messages WHERE owner IS NOT NULL"
        " AND lease_until >= extract(epoch FROM clock_timestamp()) GROUP BY owner"
    ).fetchall():
        node, _, worker = owner.rpartition("/")
        claimed.setdefault(node, {})[int(worker) if worker.isdigit() else 0] = count
    rows = db.execute(
        "SELECT name, host, pid, extract(epoch FROM started), extract(epoch FROM seen),"
        f" seen >= now() - {DOWN_AFTER_LEASES} * lease * interval '1 second', workers"
        " FROM nodes WHERE coalesce(seen, started)"
        f" >= now() - interval '{RETENTION_DAYS} days' ORDER BY name"
    ).fetchall()
    nodes = []
    for name, host, pid, started, seen, up, workers in rows:
        nodes.append(
            _node(
                name,
                host,
                pid,
                isoTime(float(started)),
                None if seen is None else isoTime(float(seen)),
                bool(up),
                workers,
                claimed.get(name, {}),
            )
        )
    queued, held = db.execute(
        "SELECT count(*) FILTER (WHERE due IS NOT NULL), count(*) FILTER (WHERE due IS NULL)"
        " FROM queue_messages"
    ).fetchone()
    return {"nodes": nodes, "queued": queued, "held": held}


def localNodes(data: Path, node: str, now: float, isoTime) -> dict:
    """
    This machine as the one node C{node}: its workers (one spool each), what
    each holds (the messages not held in its spool), and the queue's counts.
    C{up} while the gateway that locks C{data} runs.
    """
    entries = queueEntries(data)
    claimed: dict[int, int] = {}
    for entry in entries:
        if not entry["held"]:
            claimed[entry["worker"]] = claimed.get(entry["worker"], 0) + 1
    workers = [worker for worker, _ in workerSpools(data)]
    pid = _lockHolder(data)
    up = pid is not None
    held = sum(1 for e in entries if e["held"])
    return {
        "nodes": [
            _node(
                node or socket.gethostname(),
                socket.gethostname(),
                pid,
                None,
                isoTime(now) if up else None,
                up,
                len(workers),
                {w: claimed.get(w, 0) for w in workers},
            )
        ],
        "queued": len(entries) - held,
        "held": held,
    }


def _lockHolder(data: Path) -> int | None:
    """The process id of the running gateway that locks C{data}, if one runs."""
    try:
        text = (data / LOCK_FILE).read_text("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not text.isdigit():
        return None
    try:
        os.kill(int(text), 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # another user's process: it runs
    return int(text)
