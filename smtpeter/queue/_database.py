"""
The spool in SQLite: each worker's accepted messages, and what happened to
each recipient, in C{spool.db} of its spool directory (WAL mode,
C{synchronous=FULL}).

A commit appends to the write-ahead log and syncs that one file: no file is
created, renamed or unlinked per message, and no directory is synced, which
made a file per message cost twice the CPU. One thread writes; the stores
of every session waiting meanwhile share its next commit (and its sync).
Only once the commit holding a message is done is the message reported
stored, so a crash at any moment loses no message that got its C{250}.

A body too large to hold in memory (L{Spilled}) stays a file: it is copied
to C{large/<qid>} and synced before its row is committed; a file there
without a row never got its C{250} and is deleted at start, like the files
of C{incoming/}, where bodies are written as they arrive.

A finished message keeps its row, marked with the time it finished, for
C{keepSent} days, so the dashboard can show what was sent; the purge
deletes those rows in small transactions. Messages of the spool on files
that came before (C{queue/}) are imported at start, and their files deleted
only once the import is committed.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import sqlite3
import time
from pathlib import Path

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from ..message import QueuedMessage
from ..runtime import LATER, BatchWriter, Workers, explain, loadSteps, schemaVersion
from ._incoming import IncomingContent, Spilled
from ._spool import (
    QUEUE_ID,
    DiskSpool,
    _copy,
    _fromMetadata,
    _fsyncDirectory,
    _metadata,
    _writeFile,
)
from .interfaces import ISpool

log = Logger()

#: C{done} of a message still queued: a time far ahead (in the year 4199) that
#: takes as many bytes as a real one, so that marking a message finished
#: rewrites its row where it is, and not the pages of its content.
QUEUED = 1 << 46

#: The spool's schema, in numbered steps (smtpeter/queue/schema/), and the
#: version they bring a spool to (recorded in its table schema_version).
STEPS = loadSteps(__package__, "sqlite")
SPOOL_VERSION = len(STEPS)

#: The database's file in a worker's spool directory.
SPOOL_FILE = "spool.db"

#: Finished messages deleted per transaction by the purge.
PURGE_CHUNK = 500


class SpoolUnusable(OSError):
    """
    The spool's database is no longer the file at its path (deleted or
    replaced while the gateway ran): what is committed to it would be lost
    at the next start, so nothing stored in it may get a C{250}.
    """


def _asOSError(e: sqlite3.Error) -> OSError:
    """What the queue manager reports as a known condition in one line (a full disk)."""
    code = errno.ENOSPC if "full" in str(e) else errno.EIO
    return OSError(code, f"spool database: {e}")


class SpoolTooNew(sqlite3.DatabaseError):
    """A spool upgraded by a later smtpeter than this one."""


def upgradeSpool(db: sqlite3.Connection) -> tuple[int, int]:
    """
    Bring a spool's database to L{SPOOL_VERSION}, in one transaction that
    holds the write lock. A spool from before versions has step 1's tables
    already (it is dated version 1); an empty file gets them.
    @return: the versions before and after.
    """
    before = schemaVersion(db)
    if before == SPOOL_VERSION:
        return before, before
    db.execute("BEGIN IMMEDIATE")
    try:
        before = schemaVersion(db)
        if before > SPOOL_VERSION:
            raise SpoolTooNew(
                f"the spool is at schema version {before}, and this smtpeter knows versions up"
                f" to {SPOOL_VERSION}: run the smtpeter that upgraded it, or a later one"
            )
        db.execute(
            "CREATE TABLE IF NOT EXISTS schema_version"
            " (version INTEGER PRIMARY KEY, applied REAL NOT NULL)"
        )
        for step in STEPS[before:]:
            for statement in step.statements():
                db.execute(statement)
            db.execute(
                "INSERT INTO schema_version (version, applied) VALUES (?, ?)",
                (step.version, time.time()),
            )
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return before, SPOOL_VERSION


class SpoolDatabase:
    """
    A worker's spool, synchronously. One instance writes (in one thread);
    others, opened with L{reading}, read beside it, in this process or
    another (the C{smtpeter queue} command).
    """

    def __init__(self, root: Path, keepSent: float = 0) -> None:
        self.root = root
        self.path = root / SPOOL_FILE
        self.incoming = root / "incoming"
        self.large = root / "large"
        self.corrupt = root / "corrupt"
        #: Days a finished message stays (0: deleted when it finishes).
        self.keepSent = keepSent
        self.db: sqlite3.Connection | None = None
        #: The files the connection writes, as (device, inode), by path (L{lost}).
        self._files: dict[Path, tuple[int, int]] = {}
        self._lost: str | None = None
        #: Where L{salvage} wrote what a lost database held, and that file's (device, inode).
        self.salvaged: Path | None = None
        self._salvagedAs: tuple[int, int] | None = None

    def _connect(self, readOnly: bool = False) -> sqlite3.Connection:
        if readOnly:
            db = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
        else:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute(f"PRAGMA journal_size_limit={16 << 20}")
        db.execute("PRAGMA busy_timeout=10000")
        return db

    def open(self) -> None:
        """Open for writing, making the directories and the schema as needed."""
        if self.db is not None:
            return
        for d in (self.incoming, self.large):
            d.mkdir(parents=True, exist_ok=True)
        self.db = self._connect()
        upgradeSpool(self.db)
        self._files = {}
        for path in (self.path, self.path.with_name(SPOOL_FILE + "-wal")):
            with contextlib.suppress(FileNotFoundError):
                found = os.stat(path)
                self._files[path] = (found.st_dev, found.st_ino)

    def lost(self) -> str | None:
        """
        Why the files this spool writes are no longer the files at their
        paths (deleted or replaced under the gateway), or C{None} while
        they are. One C{stat} per file; once lost, lost for good (until a
        restart opens the files found there then).
        """
        if self._lost is None:
            for path, identity in list(self._files.items()):
                try:
                    found = os.stat(path)
                except FileNotFoundError:
                    self._lost = f"{path} was deleted while in use"
                else:
                    if (found.st_dev, found.st_ino) != identity:
                        self._lost = f"{path} was replaced while in use"
                if self._lost is not None:
                    break
        return self._lost

    @classmethod
    def reading(cls, root: Path) -> SpoolDatabase | None:
        """A spool to read beside the process writing it; C{None} if it has no database."""
        spool = cls(root)
        if not spool.path.is_file():
            return None
        spool.db = spool._connect(readOnly=True)
        return spool

    def reader(self) -> SpoolDatabase:
        """Another connection to this spool, for reading in another thread."""
        other = SpoolDatabase(self.root, self.keepSent)
        other.db = other._connect()
        return other

    @contextlib.contextmanager
    def _transaction(self):
        """A write transaction: committed if the block ends well, else rolled back."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        if self.db is not None:
            if self._lost is not None:
                self.salvage()  # what it holds now, for the next start
            self.db.close()
            self.db = None

    def salvage(self) -> Path | None:
        """
        Once the database is L{lost}: write what the open connection still
        reads (every message, every recipient's state) to a new file, so
        that the next start resumes the queue instead of losing it. To the
        spool's own path if nothing else is there now (or only what an
        earlier salvage wrote); else beside it, as
        C{spool.db.salvaged-TIME}. Done when the loss is found, and again
        when the spool is closed. @return: where it went (C{None}: nowhere).
        """
        if self._lost is None or self.db is None:
            return None
        target = self.salvaged or self.path
        try:
            found = os.stat(target)
        except FileNotFoundError:
            pass
        else:
            if (found.st_dev, found.st_ino) != self._salvagedAs:
                stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
                target = self.root / f"{SPOOL_FILE}.salvaged-{stamp}"
        temporary = target.with_name(target.name + ".tmp")
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            self.db.execute("VACUUM INTO ?", (str(temporary),))
            with open(temporary, "rb") as f:
                os.fsync(f.fileno())
            if target == self.path:
                # A write-ahead log left at the path is not this file's: SQLite
                # would apply it to the new one at the next start.
                for name in (SPOOL_FILE + "-wal", SPOOL_FILE + "-shm"):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(self.root / name)
            os.replace(temporary, target)
            _fsyncDirectory(self.root)
        except (sqlite3.Error, OSError) as e:
            log.critical(
                "could not save what the lost spool database held to {path}: {why}",
                path=str(target),
                why=str(e),
            )
            return None
        found = os.stat(target)
        self.salvaged, self._salvagedAs = target, (found.st_dev, found.st_ino)
        return target

    # Start ---------------------------------------------------------------------------

    def prepare(self) -> None:
        """
        Open, and tidy up after a stop or a crash: bodies that were being
        received, and large files whose message was never committed, go;
        a spool on files left by an earlier version is imported.
        """
        self.open()
        for leftover in self.incoming.iterdir():
            log.info("discarding incomplete incoming file {name}", name=leftover.name)
            leftover.unlink()
        self._importFiles(self.root)
        for path in self.large.iterdir():
            if not self.db.execute("SELECT 1 FROM message WHERE qid = ?", (path.name,)).fetchone():
                log.info("discarding large file {name} of no message", name=path.name)
                path.unlink()

    def _importFiles(self, root: Path) -> int:
        """
        Every message in the files of C{root}'s C{queue/} (the spool of
        earlier versions), with its recipients' states; the files are
        deleted once the rows are committed. Damaged files go to C{corrupt/}.
        """
        files = DiskSpool(root)
        if not files.queue.is_dir():
            return 0
        files.corrupt.mkdir(exist_ok=True)
        found = files.load()
        for message, states in found:
            meta, content = files._read(message.qid)
            if len(content) > (1 << 20):
                _writeFile(str(self.large / message.qid), content)
                _fsyncDirectory(self.large)
                content = None
            with self._transaction():
                self._insert(
                    message.qid, json.dumps(meta, separators=(",", ":")), content, "OR IGNORE"
                )
                self._recordStates(message.qid, states)
        for path in files.queue.iterdir():
            path.unlink()
        files.queue.rmdir()
        if found:
            log.info(
                "imported {n} queued message(s) from {path}", n=len(found), path=str(files.queue)
            )
        return len(found)

    def adopt(self, other: Path) -> int:
        """
        Take over every message of the spool in C{other} (a worker's that
        no longer runs; nothing may be using it), and remove it.
        @return: how many queued messages moved.
        """
        self.open()
        moved = 0
        if other.is_dir():
            gone = SpoolDatabase(other)
            gone.prepare()  # its files imported, its leftovers gone
            moved = gone.db.execute(
                f"SELECT COUNT(*) FROM message WHERE done = {QUEUED}"
            ).fetchone()[0]
            gone.close()
            self.db.execute("ATTACH DATABASE ? AS gone", (str(gone.path),))
            try:
                with self._transaction():
                    self.db.execute(
                        "INSERT INTO message (qid, done, meta, content)"
                        " SELECT qid, done, meta, content FROM gone.message WHERE true"
                        " ON CONFLICT DO NOTHING"
                    )
                    self.db.execute(
                        "INSERT INTO state (qid, rcpt, state)"
                        " SELECT qid, rcpt, state FROM gone.state WHERE true"
                        " ON CONFLICT DO NOTHING"
                    )
            finally:
                self.db.execute("DETACH DATABASE gone")
            # Rows first, then their large files: a crash between leaves rows in
            # both spools, and the next start adopts again (ignoring those it has).
            for path in gone.large.iterdir():
                if not (self.large / path.name).exists():
                    os.rename(path, self.large / path.name)
            _fsyncDirectory(self.large)
            if gone.corrupt.is_dir():
                self.corrupt.mkdir(exist_ok=True)
                for path in gone.corrupt.iterdir():
                    os.rename(path, self.corrupt / path.name)
            shutil.rmtree(other)
        return moved

    # Writing (the writer thread) ----------------------------------------------------------

    def writeLarge(self, message: QueuedMessage) -> None:
        """A spilled body's message, in C{large/<qid>}, synced (before its row is)."""
        content = message.content
        path = self.large / message.qid
        try:
            with open(path, "wb") as f:
                f.write(content.head)
                _copy(content.path, f, content.length)
                f.flush()
                os.fsync(f.fileno())
            _fsyncDirectory(self.large)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            raise

    def apply(self, work: list[tuple]) -> list[Exception | None]:
        """
        Do every item of C{work} in one transaction: C{("store", message)},
        C{("states", qid, states)}, C{("finish", qid, when)}. If that fails,
        each is tried alone, so that one bad item fails only itself.

        Once the database is L{lost}, a store fails with L{SpoolUnusable}:
        its client gets a 451 and sends it again later, so no copy of it
        may stay (it would be delivered twice).
        @return: for each item, C{None} or what it failed with.
        """
        if self._lost is not None and any(item[0] == "store" for item in work):
            rest = iter(self.apply([item for item in work if item[0] != "store"]))
            refused = SpoolUnusable(errno.ESTALE, self._lost)
            return [refused if item[0] == "store" else next(rest) for item in work]
        try:
            self._do(work)
        except (sqlite3.Error, OSError, ValueError) as e:
            if len(work) == 1:
                return [_asOSError(e) if isinstance(e, sqlite3.Error) else e]
            return [self.apply([item])[0] for item in work]
        stored = [item[1].qid for item in work if item[0] == "store"]
        if stored and self.lost() is not None:
            # Committed; but not to the file at the spool's path. One check for
            # every message of the commit, before any of them gets its 250.
            self._forget(stored)
            if self.salvaged is None:
                self.salvage()
            refused = SpoolUnusable(errno.ESTALE, self._lost)
            return [refused if item[0] == "store" else None for item in work]
        return [None] * len(work)

    def _forget(self, qids: list[str]) -> None:
        """Take back stores whose clients are told they failed."""
        try:
            with self._transaction():
                self.db.executemany("DELETE FROM state WHERE qid = ?", [(q,) for q in qids])
                self.db.executemany("DELETE FROM message WHERE qid = ?", [(q,) for q in qids])
        except sqlite3.Error as e:
            log.critical(
                "could not take back {n} message(s) refused with 451: {why}",
                n=len(qids),
                why=str(e),
            )
            return
        self._unlinkLarge(qids)

    def _do(self, work: list[tuple]) -> None:
        forgotten = []
        with self._transaction():
            for item in work:
                if item[0] == "store":
                    self._store(item[1])
                elif item[0] == "states":
                    self._recordStates(item[1], item[2])
                elif item[0] == "finish":
                    forgotten += self._finish(item[1], item[2])
        self._unlinkLarge(forgotten)

    def _unlinkLarge(self, qids) -> None:
        """Once their rows are gone for good: the large files of C{qids}, if they have any."""
        for qid in qids:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.large / qid)

    def _store(self, message: QueuedMessage) -> None:
        content = None if isinstance(message.content, Spilled) else message.content
        self._insert(message.qid, _metadata(message)[:-1].decode(), content)

    def _insert(self, qid: str, meta: str, content: bytes | None, conflict: str = "") -> None:
        self.db.execute(
            f"INSERT {conflict} INTO message (qid, meta, content) VALUES (?, ?, ?)",
            (qid, meta, content),
        )

    def _recordStates(self, qid: str, states: dict[int, dict]) -> None:
        self.db.executemany(
            "INSERT INTO state (qid, rcpt, state) VALUES (?, ?, ?)"
            " ON CONFLICT (qid, rcpt) DO UPDATE SET state = excluded.state",
            [(qid, i, json.dumps(s, separators=(",", ":"))) for i, s in states.items()],
        )

    def _finish(self, qid: str, when: float) -> list:
        """A finished message: kept a while, or forgotten (its large file then goes too)."""
        self.db.execute("DELETE FROM state WHERE qid = ?", (qid,))
        if self.keepSent:
            self.db.execute("UPDATE message SET done = ? WHERE qid = ?", (int(when * 1000), qid))
            return []
        large = self.db.execute(
            "DELETE FROM message WHERE qid = ? RETURNING content IS NULL", (qid,)
        ).fetchall()
        return [qid] if large and large[0][0] else []

    def purge(self, now: float) -> int:
        """
        Forget up to L{PURGE_CHUNK} messages that finished over C{keepSent}
        days ago, in one transaction. @return: how many went.
        """
        cutoff = now - self.keepSent * 86400
        # Ids sort by arrival: one received after the cutoff finished after it.
        bound = f"{int(cutoff * 1000):012X}"
        rows = self.db.execute(
            "SELECT rowid, qid, content IS NULL FROM message WHERE qid < ? AND done < ? LIMIT ?",
            (bound, int(cutoff * 1000), PURGE_CHUNK),
        ).fetchall()
        if rows:
            with self._transaction():
                self.db.executemany("DELETE FROM message WHERE rowid = ?", [(r[0],) for r in rows])
        self._unlinkLarge(qid for _, qid, large in rows if large)
        return len(rows)

    # Reading -------------------------------------------------------------------------------

    def load(self) -> list[tuple[QueuedMessage, dict[int, dict]]]:
        """Every queued message (content empty) and its recipients' states."""
        return [(_fromMetadata(meta), states) for meta, states in self.inspect()]

    def readContent(self, qid: str) -> bytes:
        """A message's content (queued or kept after it finished)."""
        content = self._content(qid, "")
        if content is None:
            raise FileNotFoundError(errno.ENOENT, "no such message in the spool", qid)
        return content

    def sent(self, qid: str) -> bytes | None:
        """The content of a finished message still kept; C{None} if there is none."""
        try:
            return self._content(qid, f" AND done != {QUEUED}")
        except OSError:  # its large file purged just now
            return None

    def _content(self, qid: str, where: str) -> bytes | None:
        row = self.db.execute(
            f"SELECT content FROM message WHERE qid = ?{where}", (qid,)
        ).fetchone()
        if row is None:
            return None
        return row[0] if row[0] is not None else (self.large / qid).read_bytes()

    def inspect(self) -> list[tuple[dict, dict[int, dict]]]:
        """What is queued: each message's metadata and its recipients' states."""
        return self._inspect(f"done = {QUEUED} ORDER BY qid", ())

    def inspectOne(self, qid: str) -> tuple[dict, dict[int, dict]] | None:
        """L{inspect} for one message, by its queue id; C{None} if it is not queued here."""
        if not QUEUE_ID.fullmatch(qid):
            return None
        found = self._inspect(f"qid = ? AND done = {QUEUED}", (qid,))
        return found[0] if found else None

    def held(self) -> list[str]:
        """The queue ids of messages kept in hold mode and not released, in one read."""
        rows = self.db.execute(
            # A substring first (as _metadata writes it, or with a space): parsing
            # every queued message's JSON takes twice as long (100,000 queued: 75 ms).
            f"SELECT qid FROM message m WHERE done = {QUEUED}"
            " AND (instr(meta, '\"hold\":true') OR instr(meta, '\"hold\": true'))"
            " AND json_extract(meta, '$.options.hold')"
            " AND NOT EXISTS (SELECT 1 FROM state s WHERE s.qid = m.qid"
            " AND json_extract(s.state, '$.released'))"
        )
        return [qid for (qid,) in rows]

    def _inspect(self, where: str, args: tuple) -> list[tuple[dict, dict[int, dict]]]:
        rows = self.db.execute(f"SELECT qid, meta FROM message WHERE {where}", args).fetchall()
        if not rows:
            return []
        states = self._states(rows[0][0] if len(rows) == 1 else None)
        return [(json.loads(meta), states.get(qid, {})) for qid, meta in rows]

    def _states(self, qid: str | None) -> dict[str, dict[int, dict]]:
        """
        The recipients' states of C{qid}, or of every message (only queued
        messages have any: finishing one deletes them), in one read.
        """
        query, args = "SELECT qid, rcpt, state FROM state", ()
        if qid is not None:
            query, args = query + " WHERE qid = ?", (qid,)
        states: dict[str, dict[int, dict]] = {}
        for found, rcpt, state in self.db.execute(query, args):
            states.setdefault(found, {})[rcpt] = json.loads(state)
        return states

    def freeBytes(self) -> int:
        stat = os.statvfs(self.root)
        return stat.f_bavail * stat.f_frsize


@implementer(ISpool)
class SQLiteSpool:
    """
    L{ISpool} over L{SpoolDatabase}: writes in one thread, each commit
    carrying every write that waited for the one before; reads of content
    in another thread, on a connection of their own.
    """

    def __init__(self, root: Path, reactor, keepSent: float = 0) -> None:
        self.root = root
        self.reactor = reactor
        self.database = SpoolDatabase(root, keepSent)
        self._writer: BatchWriter | None = None
        self._reader: Workers | None = None
        self._free = 0
        self._freeAt = -1e9
        #: The reading thread's connection (closed by L{stop}).
        self._readers: list[SpoolDatabase] = []
        #: Why the last store failed, if it did (cleared by one that succeeds).
        self._failing: str | None = None
        self._reportedLost = False

    def _openReader(self) -> SpoolDatabase:
        reader = self.database.reader()
        self._readers.append(reader)
        return reader

    def start(self) -> None:
        try:
            self.database.prepare()
        except sqlite3.Error as e:
            # One line at start (a damaged or unreadable database), not a traceback.
            self.database.close()
            raise OSError(errno.EIO, explain(self.database.path, e)) from e
        # Removals (nothing waits for them) linger up to LATER for a store to ride along.
        self._writer = BatchWriter(
            self.reactor,
            "smtpeter-spool",
            lambda: self.database,
            self._apply,
            linger=LATER,
            dropped=self._notFinished,
        )
        self._reader = Workers(self.reactor, 1, "smtpeter-spool-reader", self._openReader)
        self._writer.start()
        self._reader.start()

    def stop(self) -> None:
        """Commit what waits, end the threads, close the database."""
        for workers in (self._writer, self._reader):
            if workers is not None:
                workers.stop()
        self._writer = self._reader = None
        for reader in self._readers:
            reader.close()
        self._readers = []
        self.database.close()

    def incoming(self) -> IncomingContent:
        return IncomingContent(self._spill)

    def _spill(self):
        path = self.database.incoming / f"spill-{os.urandom(8).hex()}"
        return path, open(path, "wb")

    def store(self, message: QueuedMessage) -> Deferred:
        if isinstance(message.content, Spilled):
            d = self._reader.run(SpoolDatabase.writeLarge, message)
            return d.addCallback(lambda _: self._writer.write(("store", message)))
        return self._writer.write(("store", message))

    def recordStates(self, qid: str, states: dict) -> Deferred:
        return self._writer.write(("states", qid, dict(states)))

    def remove(self, qid: str) -> Deferred:
        # Nothing waits for it: it joins the next commit (a crash before that
        # only repeats the message's deliveries).
        self._writer.post(("finish", qid, self.reactor.seconds()))
        return succeed(None)

    def readContent(self, qid: str) -> Deferred:
        return self._reader.run(SpoolDatabase.readContent, qid)

    def load(self) -> Deferred:
        # After every write given before it, removals included.
        return self._writer.run(SpoolDatabase.load)

    def purge(self) -> Deferred:
        """Forget the finished messages kept long enough. @return: C{Deferred[int]}, how many."""
        if not self.database.keepSent:
            return succeed(0)
        return self._purgeFrom(0)

    def _purgeFrom(self, total: int) -> Deferred:
        # A chunk at a time, so stores wait for one small transaction at most.
        d = self._writer.run(SpoolDatabase.purge, self.reactor.seconds())
        return d.addCallback(
            lambda n: self._purgeFrom(total + n) if n == PURGE_CHUNK else total + n
        )

    def freeBytes(self) -> int:
        """Free space, asked of the file system at most once a second (it is checked per MAIL)."""
        now = time.monotonic()
        if now - self._freeAt >= 1.0:
            self._free, self._freeAt = self.database.freeBytes(), now
        return self._free

    def _apply(self, database: SpoolDatabase, work: list[tuple]) -> list:
        """
        In the writer's thread: L{SpoolDatabase.apply}, keeping the last
        store's outcome for L{problems} (before anyone is answered), and
        saying once, loudly, if the spool is lost.
        """
        results = database.apply(work)
        for item, result in zip(work, results, strict=True):
            if item[0] == "store":
                self._failing = None if result is None else str(result)
                if isinstance(result, SpoolUnusable) and not self._reportedLost:
                    self.reactor.callFromThread(self._lostFound)
        return results

    def _notFinished(self, item: tuple, failure: Failure) -> None:
        log.warn(
            "could not mark {qid} finished in the spool: {why}", qid=item[1], why=failure.value
        )

    def _lostFound(self) -> None:
        """
        Say once, loudly, that the spool's database is lost, once what it
        held is saved (the writer saves it when a store finds the loss; when
        the health check finds it first, it is saved now).
        """
        if self._reportedLost:
            return
        self._reportedLost = True
        if self.database.salvaged is None and self._writer is not None:
            d = self._writer.run(SpoolDatabase.salvage)
            d.addErrback(lambda f: log.failure("saving the lost spool failed", f))
            d.addBoth(lambda _: self._logLost())
        else:
            self._logLost()

    def _logLost(self) -> None:
        saved = self.database.salvaged
        log.critical(
            "the spool database {path} is gone: {why}. Every new message is refused with"
            " 451 4.3.0 until the gateway is restarted. {saved}",
            path=str(self.database.path),
            why=self.database.lost(),
            saved=(
                f"What it held (the queue) is saved as {saved}, again when the gateway"
                " stops; a restart resumes it."
                if saved == self.database.path
                else f"What it held (the queue) is saved as {saved}, again when the gateway"
                f" stops: stop the gateway, put it in place of {self.database.path} (and"
                " delete its -wal and -shm files), then start it."
                if saved is not None
                else "What it held could not be saved (see above): messages still queued"
                " are lost at the next start."
            ),
        )

    def problems(self) -> list[str]:
        """
        Why this spool cannot take mail now, if it cannot (for the health
        check): its database deleted or replaced, or its last store failed.
        """
        lost = self.database.lost()
        if lost is not None:
            self._lostFound()
            saved = self.database.salvaged
            return [
                f"spool database: {lost}; mail is refused until the gateway is restarted"
                + (f" (what it held is saved as {saved}, which a restart resumes)" if saved else "")
            ]
        if self._failing is not None:
            return [f"spool database {self.database.path}: the last store failed: {self._failing}"]
        return []
