"""
An L{IClaimingSpool} in memory, for tests: several workers' spools over
one L{Board} (what the shared database holds), on one clock.
"""

from __future__ import annotations

from attrs import define, evolve, field
from twisted.internet.defer import fail, succeed
from zope.interface import implementer

from ..message import QueuedMessage
from ._incoming import IncomingContent, Spilled
from ._sharedconnection import ClaimLost
from .interfaces import IClaimingSpool


@define
class Row:
    message: QueuedMessage
    content: bytes
    states: dict[int, dict] = field(factory=dict)
    due: float | None = None
    owner: str | None = None
    leaseUntil: float | None = None
    claim: int = 0


@define
class Board:
    """The shared queue's rows, by queue id."""

    rows: dict[str, Row] = field(factory=dict)


@implementer(IClaimingSpool)
class MemoryClaimingSpool:
    def __init__(self, board: Board, owner: str, clock, lease: float = 60.0) -> None:
        self.board = board
        self.owner = owner
        self.clock = clock
        self.lease = lease
        self.claims: dict[str, int] = {}

    def _now(self) -> float:
        return self.clock.seconds()

    def incoming(self) -> IncomingContent:
        raise NotImplementedError("an in-memory spool takes bodies as bytes")

    def store(self, message: QueuedMessage):
        if message.qid in self.board.rows:
            return fail(KeyError(f"{message.qid} is queued already"))
        content = message.content
        content = content.read() if isinstance(content, Spilled) else content
        row = Row(evolve(message, content=b""), content)
        if not message.options.hold:
            row.due, row.owner, row.leaseUntil, row.claim = (
                message.received,
                self.owner,
                self._now() + self.lease,
                1,
            )
            self.claims[message.qid] = 1
        self.board.rows[message.qid] = row
        return succeed(None)

    def _mine(self, qid: str) -> Row | None:
        row = self.board.rows.get(qid)
        if row is None or row.owner != self.owner or row.claim != self.claims.get(qid):
            self.claims.pop(qid, None)
            return None
        return row

    def recordStates(self, qid: str, states: dict):
        row = self._mine(qid)
        if row is None:
            return fail(ClaimLost(qid))
        row.states.update(states)
        return succeed(None)

    def release(self, qid: str, states: dict, due: float | None):
        row = self._mine(qid)
        if row is None:
            return fail(ClaimLost(qid))
        row.states.update(states)
        row.due, row.owner, row.leaseUntil = due, None, None
        del self.claims[qid]
        return succeed(None)

    def remove(self, qid: str):
        if self._mine(qid) is None:
            return fail(ClaimLost(qid))
        del self.board.rows[qid]
        del self.claims[qid]
        return succeed(None)

    def readContent(self, qid: str):
        row = self.board.rows.get(qid)
        if row is None:
            return fail(FileNotFoundError(f"{qid}: no such message in the queue"))
        return succeed(row.content)

    def load(self):
        return succeed([])

    def _free(self, row: Row) -> bool:
        return row.owner is None or (row.leaseUntil or 0) < self._now()

    def _take(self, row: Row) -> tuple[QueuedMessage, dict[int, dict]]:
        row.owner, row.leaseUntil, row.claim = self.owner, self._now() + self.lease, row.claim + 1
        self.claims[row.message.qid] = row.claim
        return row.message, dict(row.states)

    def claim(self, limit: int):
        due = sorted(
            (r for r in self.board.rows.values() if r.due is not None and r.due <= self._now()),
            key=lambda r: r.due or 0.0,
        )
        return succeed([self._take(r) for r in [r for r in due if self._free(r)][:limit]])

    def claimOne(self, qid: str, held: bool = False):
        row = self.board.rows.get(qid)
        if row is None or not self._free(row) or (held and row.due is not None):
            return succeed(None)
        return succeed(self._take(row))

    def claimHeld(self, before: float, limit: int):
        old = sorted(
            (
                r
                for r in self.board.rows.values()
                if r.due is None and r.message.received < before and self._free(r)
            ),
            key=lambda r: r.message.received,
        )
        return succeed([self._take(r) for r in old[:limit]])

    def renew(self):
        lost = []
        for qid in list(self.claims):
            row = self._mine(qid)
            if row is None:
                lost.append(qid)
            else:
                row.leaseUntil = self._now() + self.lease
        return succeed(lost)

    def holds(self, qid: str):
        row = self._mine(qid)
        return succeed(row is not None and (row.leaseUntil or 0) > self._now())

    def holding(self) -> int:
        return len(self.claims)
