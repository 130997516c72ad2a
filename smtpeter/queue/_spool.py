"""
The spool on files of earlier versions, written the way Postfix writes its
queue: a message was written to C{incoming/}, ended with a marker, fsynced,
renamed into C{queue/}, and the directory fsynced. The spool in SQLite
(L{smtpeter.queue._adopt}) imports such a queue at start, reading it
with L{DiskSpool}: a file in C{queue/} without its end marker is moved to
C{corrupt/}, never deleted.

Per-recipient progress is an append-only C{<qid>.state} file of JSON lines;
the last line for a recipient wins, and a torn last line (a crash
mid-write) is ignored.

Also here: queue ids, where each worker's spool is, the sent archive of
earlier versions (finished messages as files, read until purged) and the
in-memory spool for tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import time
from pathlib import Path

from attrs import evolve
from twisted.internet.defer import fail, succeed
from twisted.logger import Logger
from zope.interface import implementer

from ..message import Envelope, Options, QueuedMessage
from ..runtime import tokenHex
from ._incoming import IncomingContent, Spilled
from .interfaces import ISpool

MAGIC = b"smtpeter-spool 1\n"
END = b"\nsmtpeter-spool-end\n"
log = Logger()


def newQueueId(clock=time.time) -> str:
    """Sortable by arrival, unguessable: a L{QUEUE_ID}."""
    return f"{int(clock() * 1000):012X}{tokenHex(4).upper()}"


def spoolDirectory(data: Path, worker: int = 1) -> Path:
    """
    A worker's own spool: worker 1 (and a gateway of one process) keeps
    C{DATA/spool}, worker N C{DATA/spool-N}, so that changing --workers
    never moves the first worker's queue.
    """
    return data / "spool" if worker == 1 else data / f"spool-{worker}"


def sentDirectory(data: Path) -> Path:
    """Where every worker's finished messages are kept a while (L{SentArchive})."""
    return data / "sent"


def spoolDirectories(data: Path) -> list[tuple[int, Path]]:
    """Every worker's spool that exists, as C{(worker, path)}, in worker order."""
    found = [(1, data / "spool")] if (data / "spool").is_dir() else []
    for path in data.glob("spool-*"):
        number = path.name[len("spool-") :]
        if number.isdigit() and int(number) > 1 and path.is_dir():
            found.append((int(number), path))
    return sorted(found)


def _writeFile(path: str, data: bytes) -> None:
    """
    A new file holding C{data}, on disk when this returns. It is opened
    with C{O_DSYNC}: each write returns once its data, and what is needed
    to read it back (the file's size and blocks), are on disk, as if an
    C{fdatasync} followed it. That is one system call fewer than write and
    fsync, and each is a hand-over of the GIL that a busy reactor makes
    slow (a spool store under contention: p50 -15%).
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_DSYNC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _fsyncDirectory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _metadata(message: QueuedMessage) -> bytes:
    return (
        json.dumps(
            {
                "qid": message.qid,
                "envelope": message.envelope.toJSON(),
                "options": message.options.toJSON(),
                "received": message.received,
                "size": len(message.content),
                "dsn": message.isDSN,
            },
            separators=(",", ":"),
        ).encode()
        + b"\n"
    )


def _fromMetadata(meta: dict) -> QueuedMessage:
    """The message that L{_metadata} describes, without its content."""
    return QueuedMessage(
        meta["qid"],
        Envelope.fromJSON(meta["envelope"]),
        Options.fromJSON(meta["options"]),
        meta["received"],
        b"",
        meta["dsn"],
    )


def readQueueFile(path: Path) -> tuple[dict, bytes]:
    """A queue file's metadata and content, read once into one buffer, checked."""
    with open(path, "rb") as f:
        if f.read(len(MAGIC)) != MAGIC:
            raise ValueError("not a queue file")
        meta = json.loads(f.readline())
        content = f.read(meta["size"])
        if len(content) != meta["size"] or f.read() != END:
            raise ValueError("size mismatch or no end marker")
    return meta, content


class SentArchive:
    """
    Finished messages' queue files, as earlier versions kept them for
    C{days}: one directory per day (UTC) under C{root}, shared by every
    worker. Read by the dashboard and purged until the last day goes.
    """

    def __init__(self, root: Path, days: float) -> None:
        self.root = root
        self.days = days

    def find(self, qid: str) -> Path | None:
        """The kept queue file of C{qid}, newest day first."""
        if not self.root.is_dir() or not qid.isalnum():
            return None
        for day in sorted(self.root.iterdir(), reverse=True):
            if (day / qid).is_file():
                return day / qid
        return None

    def purge(self, now: float) -> int:
        """Forget the days older than C{days}; how many messages went."""
        if not self.root.is_dir():
            return 0
        oldest = time.strftime("%Y%m%d", time.gmtime(now - self.days * 86400))
        removed = 0
        for day in self.root.iterdir():
            if day.is_dir() and day.name.isdigit() and day.name < oldest:
                removed += sum(1 for _ in day.iterdir())
                shutil.rmtree(day, ignore_errors=True)
        return removed


class DiskSpool:
    """A spool on files, synchronously: read to import it; tests write one with it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.incoming = root / "incoming"
        self.queue = root / "queue"
        self.corrupt = root / "corrupt"
        self._queueFd: int | None = None
        self._opening = threading.Lock()

    def prepare(self) -> None:
        for d in (self.incoming, self.queue, self.corrupt):
            d.mkdir(parents=True, exist_ok=True)
        for leftover in self.incoming.iterdir():
            log.info("discarding incomplete incoming file {name}", name=leftover.name)
            leftover.unlink()

    def store(self, message: QueuedMessage) -> None:
        temporary = os.path.join(self.incoming, message.qid)
        content = message.content
        try:
            if isinstance(content, Spilled):
                with open(temporary, "wb") as f:
                    f.write(MAGIC + _metadata(message) + content.head)
                    _copy(content.path, f, content.length)
                    f.write(END)
                    f.flush()
                    os.fsync(f.fileno())
            else:
                # One write and no buffered file: each system call is a hand-over
                # of the GIL, contended by the reactor and the other threads.
                _writeFile(temporary, b"".join((MAGIC, _metadata(message), content, END)))
            os.rename(temporary, os.path.join(self.queue, message.qid))
        except BaseException:
            # Never leave a partial file behind (a full disk): it never got its 250.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        self._syncQueue()

    def _syncQueue(self) -> None:
        """
        fsync C{queue/}, through a descriptor opened once: opening and
        closing it for each message were two more GIL hand-overs (p50 -20%
        for a store under contention).
        """
        fd = self._queueFd
        if fd is None:
            with self._opening:
                if self._queueFd is None:
                    self._queueFd = os.open(self.queue, os.O_RDONLY | os.O_DIRECTORY)
                fd = self._queueFd
        os.fsync(fd)

    def close(self) -> None:
        """Close the queue directory's descriptor, if it was opened."""
        with self._opening:
            if self._queueFd is not None:
                os.close(self._queueFd)
                self._queueFd = None

    def _read(self, qid: str) -> tuple[dict, bytes]:
        """Metadata and content, read once into one buffer (no copy of a large message)."""
        return readQueueFile(self.queue / qid)

    def _readMetadata(self, qid: str) -> dict:
        """
        The metadata of a complete queue file, checked (magic, end marker,
        length) without reading the message itself, which may be 50 MB.
        """
        with open(self.queue / qid, "rb") as f:
            if f.read(len(MAGIC)) != MAGIC:
                raise ValueError("not a queue file")
            header = f.readline()
            meta = json.loads(header)
            contentStart = len(MAGIC) + len(header)
            f.seek(0, os.SEEK_END)
            if f.tell() != contentStart + meta["size"] + len(END):
                raise ValueError("size mismatch (incomplete file?)")
            f.seek(-len(END), os.SEEK_END)
            if f.read() != END:
                raise ValueError("no end marker")
        return meta

    def _scan(self):
        """Each queue file as C{(path, metadata, None)} or C{(path, None, why damaged)}."""
        for path in sorted(self.queue.iterdir()):
            if path.name.endswith(".state"):
                continue
            try:
                yield path, self._readMetadata(path.name), None
            except (ValueError, KeyError, OSError) as e:
                yield path, None, str(e)

    def recordStates(self, qid: str, states: dict[int, dict]) -> None:
        path = self.queue / f"{qid}.state"
        new = not path.exists()
        lines = b"".join(
            json.dumps({"rcpt": index, **state}, separators=(",", ":")).encode() + b"\n"
            for index, state in states.items()
        )
        with open(path, "ab") as f:
            f.write(lines)
            f.flush()
            os.fsync(f.fileno())
        if new:
            self._syncQueue()

    def _states(self, qid: str) -> dict[int, dict]:
        states: dict[int, dict] = {}
        try:
            lines = (self.queue / f"{qid}.state").read_bytes().split(b"\n")
        except FileNotFoundError:
            return states
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a torn final line
            states[record.pop("rcpt")] = record
        return states

    def load(self) -> list[tuple[QueuedMessage, dict[int, dict]]]:
        for state in self.queue.glob("*.state"):
            if not (self.queue / state.name[: -len(".state")]).exists():
                state.unlink()
        found = []
        for path, meta, damaged in self._scan():
            if damaged is not None:
                log.error(
                    "queue file {name} is damaged ({why}); moved to corrupt/",
                    name=path.name,
                    why=damaged,
                )
                os.rename(path, self.corrupt / path.name)
                continue
            found.append((_fromMetadata(meta), self._states(path.name)))
        return found


def _copy(source: Path, target, length: int) -> None:
    """Append C{length} bytes of C{source} to the open file C{target}, in the kernel."""
    target.flush()
    with open(source, "rb") as f:
        copied = 0
        while copied < length:
            sent = os.sendfile(target.fileno(), f.fileno(), copied, length - copied)
            if not sent:
                raise OSError(f"{source.name} is shorter than the {length} bytes received")
            copied += sent
    target.seek(0, os.SEEK_END)


@implementer(ISpool)
class MemorySpool:
    """An in-memory L{ISpool} for tests; C{failStore} makes L{store} fail."""

    def __init__(self) -> None:
        self.messages: dict[str, QueuedMessage] = {}
        self.states: dict[str, dict[int, dict]] = {}
        self.failStore = False

    def incoming(self) -> IncomingContent:
        return IncomingContent()

    def store(self, message):
        if self.failStore:
            return fail(OSError("disk full"))
        if isinstance(message.content, Spilled):
            message = evolve(message, content=message.content.read())
        self.messages[message.qid] = message
        return succeed(None)

    def readContent(self, qid):
        return succeed(self.messages[qid].content)

    def recordStates(self, qid, states):
        self.states.setdefault(qid, {}).update({i: dict(s) for i, s in states.items()})
        return succeed(None)

    def remove(self, qid):
        self.messages.pop(qid, None)
        self.states.pop(qid, None)
        return succeed(None)

    def load(self):
        return succeed(
            [
                (evolve(m, content=b""), dict(self.states.get(q, {})))
                for q, m in self.messages.items()
            ]
        )

    def freeBytes(self) -> int:
        return 1 << 40
