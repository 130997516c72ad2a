"""
The workers' spools as the administration reads them, read-only, beside
the workers writing them: every queued message with its worker and each
recipient's state (C{smtpeter queue list}, the API's and the dashboard's
queue), and the content of messages that left the queue and are still
kept. A spool that cannot be read is an L{UnusableSpool} naming its file.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from attrs import evolve, frozen

from ..message import QueuedMessage
from ..queue import (
    SPOOL_FILE,
    SentArchive,
    SpoolDatabase,
    readQueueFile,
    sentDirectory,
    spoolDirectories,
)
from ..queue.manager import PENDING, RecipientState


def queueEntries(data: Path) -> list[dict]:
    """What C{smtpeter queue list} shows: each message, its worker, each recipient's state."""
    entries = []
    for worker, spool in workerSpools(data):
        with readingSpool(spool.path):
            entries += _spoolEntries(spool, worker)
    entries.sort(key=lambda entry: entry["qid"])
    return entries


def sentContent(data: Path, qid: str) -> bytes | None:
    """The content of a message that left the queue, while its spool keeps it."""
    for _, spool in workerSpools(data):
        with readingSpool(spool.path):
            content = spool.sent(qid.upper())
        if content is not None:
            return content
    # Kept as a file by an earlier version.
    path = SentArchive(sentDirectory(data), 0).find(qid.upper())
    if path is None:
        return None
    try:
        return readQueueFile(path)[1]
    except (OSError, ValueError):
        return None


@frozen
class Spooled:
    """
    A message queued in a spool, as its gateway would resume it at start:
    with its content and its recipients' saved states; C{due}, when it is
    next due (C{None}: held, and not released); C{pending}, how many of its
    recipients are still to be delivered.
    """

    message: QueuedMessage
    states: dict[int, dict]
    due: float | None
    pending: int


def spooledMail(data: Path) -> Iterator[Spooled]:
    """
    Every message queued in the workers' spools of C{data} (read-only, one
    content at a time), for C{smtpeter db copy} to put in the shared queue.
    One none of whose recipients is pending (finished, its removal not yet
    committed) is left out, as a start would drop it.
    """
    for _, spool in workerSpools(data):
        with readingSpool(spool.path):
            for message, saved in spool.load():
                states = [
                    RecipientState.fromJSON(saved[i]) if i in saved else RecipientState()
                    for i in range(len(message.envelope.recipients))
                ]
                pending = [s for s in states if s.status == PENDING]
                if not pending:
                    continue
                held = message.options.hold and not any(s.released for s in states)
                due = None if held else min(s.nextAttempt for s in pending)
                try:
                    content = spool.readContent(message.qid)
                except OSError as e:
                    raise UnreadableMessage(spool.root, message.qid, e) from e
                yield Spooled(evolve(message, content=content), saved, due, len(pending))


class UnreadableMessage(Exception):
    """The content of a queued message that cannot be read (its file in C{large/} gone, say)."""

    def __init__(self, root: Path, qid: str, why: OSError) -> None:
        where = f": {why.filename}" if why.filename else ""
        super().__init__(
            f"{root}: the content of queued message {qid} cannot be read ({why.strerror}{where})"
        )


class UnusableSpool(Exception):
    """A worker's spool database that cannot be read: its C{path}, and C{why}."""

    def __init__(self, path: Path, why: sqlite3.Error) -> None:
        super().__init__(f"{path}: {why}")
        self.path = path
        self.why = why


@contextlib.contextmanager
def readingSpool(path: Path) -> Iterator[None]:
    """Errors of the spool database at C{path} as L{UnusableSpool}, which names it."""
    try:
        yield
    except sqlite3.Error as e:
        raise UnusableSpool(path, e) from e


def workerSpools(data: Path) -> Iterator[tuple[int, SpoolDatabase]]:
    """
    Each worker's spool that has a database, read-only: C{(worker, spool)},
    closed after. Read it inside C{readingSpool(spool.path)}.
    """
    for worker, root in spoolDirectories(data):
        with readingSpool(root / SPOOL_FILE):
            spool = SpoolDatabase.reading(root)
        if spool is None:
            continue
        try:
            yield worker, spool
        finally:
            spool.close()


def _spoolEntries(spool: SpoolDatabase, worker: int) -> list[dict]:
    return [queueEntry(meta, states, worker) for meta, states in spool.inspect()]


def queueEntry(meta: dict, states: dict[int, dict], worker: int | None) -> dict:
    """
    One message as C{queue list} shows it, from its spool metadata and
    states: C{worker} holds it (C{None}: no worker of the shared queue does).
    """
    recipients = []
    for index, recipient in enumerate(meta["envelope"]["recipients"]):
        state = states.get(index, {})
        recipients.append(
            {
                "address": recipient["address"],
                "status": state.get("status", "pending"),
                "attempts": state.get("attempts", 0),
                "next_attempt": state.get("next"),
                "last": state.get("last", ""),
            }
        )
    released = any(s.get("released") for s in states.values())
    return {
        "qid": meta["qid"],
        "held": bool(meta["options"].get("hold")) and not released,
        "received": meta["received"],
        "sender": meta["envelope"]["sender"],
        "size": meta["size"],
        "dsn": meta["dsn"],
        "login": meta["options"]["login"],
        "worker": worker,
        "recipients": recipients,
    }
