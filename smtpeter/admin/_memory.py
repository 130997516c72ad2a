"""
L{IAdministration} in memory, for tests of the REST API and the dashboard:
no thread, no file, and every Deferred has fired when it is returned (so a
test reads it with C{successResultOf}). The records live in a database of
its own in memory, through the same synchronous L{Administration} the
gateway's thread runs, so that every rule (names, features, scopes, DKIM
keys, webhook destinations) and every error is the same as the gateway's;
the queue is a dictionary the test fills with L{MemoryAdministration.enqueue}.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import Clock
from zope.interface import implementer

from ..events import Destinations
from ..store import connectMemory, isoTime
from ._administration import Administration
from ._operations import Operations
from .interfaces import IAdministration


class _MemoryQueue(Administration):
    """L{Administration} whose queue is the dictionaries of a L{MemoryAdministration}."""

    def __init__(self, memory: MemoryAdministration, **kw) -> None:
        super().__init__(**kw)
        self.memory = memory

    def queue(self) -> list[dict]:
        return [dict(entry) for _, entry in sorted(self.memory.entries.items())]

    def _queued(self, qid: str, content: bool = False, limit: int | None = None):
        found = self.memory.entries.get(qid.upper())
        if found is None:
            return None
        body = self.memory.contents[found["qid"]] if content else None
        return (body if body is None or limit is None else body[:limit]), dict(found)

    def sent(self, qid: str) -> bytes | None:
        return self.memory.sentContents.get(qid.upper())

    def nodes(self) -> dict:
        memory = self.memory
        held = sum(1 for entry in memory.entries.values() if entry["held"])
        claimed = {worker: 0 for worker in range(1, memory.workers + 1)}
        for entry in memory.entries.values():
            if not entry["held"]:
                claimed[entry["worker"]] = claimed.get(entry["worker"], 0) + 1
        node = {
            "name": memory.node,
            "host": memory.node,
            "pid": 1,
            "started": isoTime(memory.started),
            "seen": isoTime(self.clock()),
            "status": "up",
            "workers": memory.workers,
            "claimed": sum(claimed.values()),
            "claimed_by_worker": {str(w): n for w, n in sorted(claimed.items())},
        }
        return {"nodes": [node], "queued": len(memory.entries) - held, "held": held}

    def heldMessages(self) -> list[str]:
        return sorted(qid for qid, entry in self.memory.entries.items() if entry["held"])


@implementer(IAdministration)
class MemoryAdministration(Operations):
    """
    The operations in memory. C{clock} (a L{Clock} unless given) dates
    what is made and asked; C{destinations} is where webhooks may go.
    """

    def __init__(
        self, clock: IReactorTime | None = None, destinations: Destinations | None = None
    ) -> None:
        self.clock = clock if clock is not None else Clock()
        self.destinations = destinations or Destinations()
        #: The queue: queue id -> its entry, as L{IAdministration.queue} lists it.
        self.entries: dict[str, dict] = {}
        #: Queue id -> the content of a message in the queue.
        self.contents: dict[str, bytes] = {}
        #: The one node's name and its workers, as L{IAdministration.nodes} lists them.
        self.node = "memory"
        self.workers = 1
        self.started = self.clock.seconds()
        #: Queue id -> the content of a message that left the queue.
        self.sentContents: dict[str, bytes] = {}
        self._db = connectMemory()
        self._admin = _MemoryQueue(
            self, db=self._db, clock=self.clock.seconds, destinations=self.destinations
        )

    # Set-up, as the gateway's queue would have it -------------------------------------

    def enqueue(
        self,
        qid: str,
        sender: str = "sender@example.com",
        recipients: Iterable[str] = ("rcpt@example.org",),
        content: bytes = b"Subject: test\r\n\r\nhello\r\n",
        held: bool = False,
        login: str = "app",
        worker: int = 1,
    ) -> dict:
        """Put a message in the queue (held, with C{held}); its entry."""
        qid = qid.upper()
        entry = {
            "qid": qid,
            "held": held,
            "received": self.clock.seconds(),
            "sender": sender,
            "size": len(content),
            "dsn": {},
            "login": login,
            "worker": worker,
            "recipients": [
                {
                    "address": address,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt": None,
                    "last": "",
                }
                for address in recipients
            ],
        }
        self.entries[qid] = entry
        self.contents[qid] = content
        return entry

    def finish(self, qid: str) -> None:
        """The message C{qid} leaves the queue (delivered); its content is kept as sent."""
        qid = qid.upper()
        del self.entries[qid]
        self.sentContents[qid] = self.contents.pop(qid)

    def _run(self, operation: Callable[..., object], *args: object) -> Deferred:
        """
        The administration's operation of that name (this queue's, where it
        has its own) now, as a fired Deferred.
        """
        try:
            return succeed(getattr(self._admin, operation.__name__)(*args))
        except Exception:
            return fail()
