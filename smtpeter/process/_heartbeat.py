"""
A node's heartbeat on PostgreSQL: every few seconds, in a thread of its
own (never the reactor's), the node writes in its row of C{nodes} that it
was seen now, how many worker processes it runs and its C{--lease}, on the
connection that holds its name (L{NodeName<smtpeter.process._nodename.NodeName>}),
made again (and the name taken again) once it was lost.
C{GET /v1/nodes}, C{smtpeter nodes} and the dashboard show a node not seen
for 3 leases as down.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from twisted.logger import Logger

log = Logger()

#: The longest time between two heartbeats (shorter with a short --lease).
BEAT = timedelta(seconds=5)


def beatInterval(lease: timedelta) -> float:
    """Seconds between heartbeats: L{BEAT}, or a third of a shorter lease."""
    return min(BEAT, lease / 3).total_seconds()


def beat(db, name: str, workers: int, lease: timedelta) -> None:
    """Write one heartbeat of the node C{name} on C{db} (autocommit)."""
    db.execute(
        "UPDATE nodes SET seen = now(), workers = %s, lease = %s WHERE name = %s",
        (workers, lease.total_seconds(), name),
    )


class Heartbeat:
    """
    The heartbeat thread of one node: L{start} writes the first beat (in
    the caller's thread) and starts the thread, L{stop} ends it. Only the
    thread uses C{db} between the two.
    """

    def __init__(
        self,
        db,
        name: str,
        workers: int,
        lease: timedelta,
        reconnect: Callable[[], Any] | None = None,
    ) -> None:
        #: What gives a new connection once C{db} is lost (C{None} while the
        #: database is away, or while it will not do).
        self._reconnect = reconnect
        self._db = db
        self._name = name
        self._workers = workers
        self._lease = lease
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="smtpeter-heartbeat", daemon=True)

    def start(self) -> None:
        beat(self._db, self._name, self._workers, self._lease)
        self._thread.start()

    def stop(self) -> None:
        """End the thread (it writes no more beats); returns once it has ended."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        interval = beatInterval(self._lease)
        failing = False
        while not self._stopping.wait(interval):
            try:
                if self._lost():
                    continue  # still away: the next beat tries again
                beat(self._db, self._name, self._workers, self._lease)
            except Exception as e:  # psycopg's: PostgreSQL away; the next beat tries again
                if not failing:
                    log.warn("node {name}: heartbeat not written: {why}", name=self._name, why=e)
                failing = True
            else:
                if failing:
                    log.info("node {name}: heartbeat written again", name=self._name)
                failing = False

    def _lost(self) -> bool:
        """
        Whether the connection is lost and no new one could be made yet; a
        lost one is replaced (L{_reconnect}) first.
        """
        if self._reconnect is None or not (self._db.closed or self._db.broken):
            return False
        db = self._reconnect()
        if db is None:
            return True
        self._db.close()
        self._db = db
        return False
