"""
A node's heartbeat on PostgreSQL: every few seconds, in a thread of its
own (never the reactor's), the node writes in its row of C{nodes} that it
was seen now, how many worker processes it runs and its C{--lease}, on the
connection that holds its name (L{NodeName<smtpeter.process._nodename.NodeName>}).
C{GET /v1/nodes}, C{smtpeter nodes} and the dashboard show a node not seen
for 3 leases as down.
"""

from __future__ import annotations

import threading
from datetime import timedelta

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

    def __init__(self, db, name: str, workers: int, lease: timedelta) -> None:
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
                beat(self._db, self._name, self._workers, self._lease)
            except Exception as e:  # psycopg's: PostgreSQL away; the next beat tries again
                if not failing:
                    log.warn("node {name}: heartbeat not written: {why}", name=self._name, why=e)
                failing = True
            else:
                failing = False
