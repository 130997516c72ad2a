"""
ISpool contract, run against the in-memory spool and the spool in SQLite
(with its real threads); then what the SQLite spool does at start, with
finished messages and with the files of the spool that came before it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from attrs import evolve
from zope.interface.verify import verifyObject

from smtpeter.queue import (
    DiskSpool,
    Envelope,
    ISpool,
    MemorySpool,
    Options,
    QueuedMessage,
    Recipient,
    SpoolDatabase,
    SpoolUnusable,
    SQLiteSpool,
    _database,
    _spoolschema,
)
from smtpeter.queue._spool import SentArchive, readQueueFile
from smtpeter.testing import result

from ..conftest import eventually


def message(qid="Q1", content=b"Subject: x\r\n\r\nbody\r\n"):
    envelope = Envelope(
        "a@example.com",
        (Recipient("b@example.org", ("SUCCESS",), "rfc822;b@x"), Recipient("c@example.org")),
        "HDRS",
        "env",
        "8BITMIME",
    )
    return QueuedMessage(
        qid, envelope, Options(frozenset({"trackclicks"}), ("t1",), "alice"), 1700000000.5, content
    )


def spilled(spool, size=2 * 1024 * 1024):
    """Content whose body went to a file of C{spool} as it arrived."""
    incoming = spool.incoming()
    incoming.write(b"Subject: x\r\n\r\n" + b"y" * size)
    return incoming.finish(b"Received: here\r\nSubject: x\r\n")


class SpoolContract:
    def makeSpool(self, tmp_path):
        """The spool; set C{self.wait} to a function that waits for a Deferred."""
        raise NotImplementedError

    def test_interface(self, tmp_path):
        assert verifyObject(ISpool, self.makeSpool(tmp_path))

    def test_store_load_read(self, tmp_path):
        spool = self.makeSpool(tmp_path)
        original = message()
        self.wait(spool.store(original))
        [(loaded, states)] = self.wait(spool.load())
        assert loaded.qid == "Q1" and states == {}
        assert loaded.envelope == original.envelope
        assert loaded.options.features == {"trackclicks"} and loaded.options.tags == ("t1",)
        assert loaded.received == original.received and loaded.content == b""
        assert self.wait(spool.readContent("Q1")) == original.content

    def test_states_last_one_wins(self, tmp_path):
        spool = self.makeSpool(tmp_path)
        self.wait(spool.store(message()))
        self.wait(
            spool.recordStates("Q1", {0: {"status": "pending", "n": 1}, 1: {"status": "pending"}})
        )
        self.wait(spool.recordStates("Q1", {0: {"status": "delivered", "n": 2}}))
        [(_, states)] = self.wait(spool.load())
        assert states == {0: {"status": "delivered", "n": 2}, 1: {"status": "pending"}}

    def test_a_body_spilled_while_received_is_stored_whole(self, tmp_path):
        spool = self.makeSpool(tmp_path)
        incoming = spool.incoming()
        body = b"\r\n" + b"x" * 100 + b"\r\n"
        big = b"\r\n" + b"0123456789abcde\r\n" * 200_000  # over the in-memory threshold
        for chunk in (b"Subject: x\r\n", body, big):
            incoming.write(chunk)
        assert incoming.header == b"Subject: x\r\n"
        content = incoming.finish(b"Received: here\r\nSubject: x\r\n")
        self.wait(spool.store(message(content=content)))
        incoming.discard()
        assert (
            self.wait(spool.readContent("Q1")) == b"Received: here\r\nSubject: x\r\n" + body + big
        )

    def test_remove(self, tmp_path):
        spool = self.makeSpool(tmp_path)
        self.wait(spool.store(message()))
        self.wait(spool.store(message("Q2")))
        self.wait(spool.recordStates("Q1", {0: {"status": "delivered"}}))
        self.wait(spool.remove("Q1"))
        assert [m.qid for m, _ in self.wait(spool.load())] == ["Q2"]

    def test_content_with_marker_like_bytes_roundtrips(self, tmp_path):
        spool = self.makeSpool(tmp_path)
        tricky = b"Subject: x\r\n\r\nsmtpeter-spool-end\n\nsmtpeter-spool 1\n\0"
        self.wait(spool.store(message(content=tricky)))
        assert self.wait(spool.readContent("Q1")) == tricky

    def test_free_bytes_is_positive(self, tmp_path):
        assert self.makeSpool(tmp_path).freeBytes() > 0


class TestMemorySpool(SpoolContract):
    def makeSpool(self, tmp_path):
        self.wait = result
        return MemorySpool()


class TestSQLiteSpool(SpoolContract):
    keepSent = 3

    @pytest.fixture(autouse=True)
    def _stopped(self):
        self.spools = []
        yield
        for spool in self.spools:
            spool.stop()

    def makeSpool(self, tmp_path, keepSent=None):
        from smtpeter.testing import PumpedReactor

        self.reactor = PumpedReactor()
        self.wait = self.reactor.wait
        spool = SQLiteSpool(
            tmp_path / "spool", self.reactor, self.keepSent if keepSent is None else keepSent
        )
        spool.start()
        self.spools.append(spool)
        return spool

    def again(self, spool, tmp_path, keepSent=None):
        """The same spool after a stop and a start (a restart of the gateway)."""
        spool.stop()
        self.spools.remove(spool)
        return self.makeSpool(tmp_path, keepSent)

    def rows(
        self, tmp_path, sql=f"SELECT qid, done != {_spoolschema.QUEUED} FROM message ORDER BY qid"
    ):
        with sqlite3.connect(tmp_path / "spool" / "spool.db") as db:
            return db.execute(sql).fetchall()

    def test_finishing_a_message_rewrites_its_row_in_place(self, tmp_path):
        spool = self.makeSpool(tmp_path)
        content = os.urandom(64 * 1024)  # pages of its own, beyond its row's
        self.wait(spool.store(message(content=content)))
        wal = tmp_path / "spool" / "spool.db-wal"
        before = wal.stat().st_size
        self.reactor.advance(1.8e9)  # a time of this century: as many bytes as QUEUED
        spool.remove("Q1")
        self.wait(spool.load())  # after the removal's commit
        assert self.rows(tmp_path) == [("Q1", 1)]
        assert wal.stat().st_size - before < 4 * 4096, "its content was written again"

    def test_the_spool_threads_are_not_batch_work_for_every_250_waits_for_them(self, tmp_path):
        spool = self.makeSpool(tmp_path)
        policy = lambda _: os.sched_getscheduler(0)  # noqa: E731
        assert self.wait(spool._writer.run(policy)) == os.SCHED_OTHER
        assert self.wait(spool._reader.run(policy)) == os.SCHED_OTHER

    def test_a_store_is_committed_before_it_is_answered(self, tmp_path):
        spool = self.makeSpool(tmp_path)
        self.wait(spool.store(message()))
        # Another connection (another process) sees it: it is in the database, not a buffer.
        assert self.rows(tmp_path) == [("Q1", 0)]

    @pytest.mark.parametrize("how", ["deleted", "replaced"])
    def test_a_store_into_a_spool_gone_from_its_path_fails_and_says_so(self, tmp_path, how):
        spool = self.makeSpool(tmp_path)
        self.wait(spool.store(message("Q1")))
        assert spool.problems() == []
        path = tmp_path / "spool" / "spool.db"
        for name in ("spool.db", "spool.db-wal", "spool.db-shm"):
            os.unlink(tmp_path / "spool" / name)
        if how == "replaced":
            sqlite3.connect(path).execute("CREATE TABLE x (y)").connection.close()
        # The health check sees it before any store does.
        [problem] = spool.problems()
        assert f"{path} was {how}" in problem
        stored = [spool.store(message(f"Q{n}")) for n in range(2, 5)]
        for d in stored:
            with pytest.raises(SpoolUnusable):
                self.wait(d)
        # States and removals of messages already queued still go on.
        self.wait(spool.recordStates("Q1", {0: {"status": "sent"}}))
        # What it held is saved: at the path if it was free, else beside it.
        saved = spool.database.salvaged
        assert (saved == path) == (how == "deleted"), saved
        assert saved.name.startswith("spool.db")
        assert f"saved as {saved}" in spool.problems()[0]
        spool.stop()  # and saved again, with what came since
        self.spools.remove(spool)
        with sqlite3.connect(saved) as db:
            assert db.execute("SELECT qid FROM message").fetchall() == [("Q1",)]
            [(state,)] = db.execute("SELECT state FROM state WHERE qid = 'Q1'").fetchall()
        assert '"sent"' in state
        if how == "deleted":  # the next start resumes it
            again = self.makeSpool(tmp_path)
            [(resumed, _)] = self.wait(again.load())
            assert resumed.qid == "Q1"

    def holdFirstCommit(self, monkeypatch):
        """
        Hold the writer's first commit until the returned release is called,
        and count the items of each commit (in the list returned).
        """
        entered, release = threading.Event(), threading.Event()
        batches: list[int] = []
        apply = _database.SpoolDatabase.apply

        def held(db, work):
            if not batches:
                entered.set()
                assert release.wait(10)
            batches.append(len(work))
            return apply(db, work)

        monkeypatch.setattr(_database.SpoolDatabase, "apply", held)
        return entered, release.set, batches

    def test_a_spool_is_checked_once_per_commit_not_per_message(self, tmp_path, monkeypatch):
        spool = self.makeSpool(tmp_path)
        entered, release, _ = self.holdFirstCommit(monkeypatch)
        checks = []
        lost = _database.SpoolDatabase.lost
        monkeypatch.setattr(
            _database.SpoolDatabase, "lost", lambda db: (checks.append(1), lost(db))[1]
        )
        stored = [spool.store(message("Q0"))]
        assert entered.wait(10)
        stored += [spool.store(message(f"Q{n}")) for n in range(1, 10)]
        release()
        for d in stored:
            self.wait(d)
        assert len(checks) == 2  # the first commit, alone; then the nine that waited for it

    def test_stores_waiting_for_a_commit_share_the_next(self, tmp_path, monkeypatch):
        spool = self.makeSpool(tmp_path)
        entered, release, batches = self.holdFirstCommit(monkeypatch)
        stored = [spool.store(message("Q0"))]
        assert entered.wait(10)  # the first is being committed, alone
        stored += [spool.store(message(f"Q{n}")) for n in range(1, 10)]
        release()
        for d in stored:
            self.wait(d)
        assert batches == [1, 9]  # the rest waited for it, together
        assert len(self.wait(spool.load())) == 10

    def test_one_bad_store_fails_only_itself(self, tmp_path):
        spool = self.makeSpool(tmp_path)
        self.wait(spool.store(message("Q1")))
        first = spool.store(message("Q2"))
        twice = spool.store(message("Q1"))  # the same id again: refused by the database
        third = spool.store(message("Q3"))
        self.wait(first)
        with pytest.raises(OSError, match="spool database"):
            self.wait(twice)
        self.wait(third)
        assert [m.qid for m, _ in self.wait(spool.load())] == ["Q1", "Q2", "Q3"]

    def test_a_removal_is_committed_without_a_store_to_ride_along(self, tmp_path):
        spool = self.makeSpool(tmp_path)
        # Long enough to see it wait, on a busy machine too (the store before
        # it is awaited, idle: committed at once all the same).
        spool._writer.linger = 3.0
        self.wait(spool.store(message()))
        self.wait(spool.remove("Q1"))
        time.sleep(0.2)  # time for a commit that did not wait; far from the linger
        assert self.rows(tmp_path) == [("Q1", 0)]  # it waits a moment for company
        eventually(lambda: self.rows(tmp_path) == [("Q1", 1)], timeout=30)

    def test_stop_commits_removals_still_waiting(self, tmp_path):
        spool = self.makeSpool(tmp_path)
        self.wait(spool.store(message()))
        self.wait(spool.remove("Q1"))
        again = self.again(spool, tmp_path)
        assert self.wait(again.load()) == []

    def test_a_finished_message_is_kept_for_its_days_then_purged(self, tmp_path):
        spool = self.makeSpool(tmp_path)
        self.wait(spool.store(message(qid="018B00000000AAAAAAAA")))
        self.wait(spool.store(message(qid="018B00000000BBBBBBBB", content=spilled(spool))))
        self.wait(spool.recordStates("018B00000000AAAAAAAA", {0: {"status": "delivered"}}))
        for qid in ("018B00000000AAAAAAAA", "018B00000000BBBBBBBB"):
            spool.remove(qid)
        spool = self.again(spool, tmp_path)
        assert self.wait(spool.load()) == []
        assert self.rows(tmp_path, "SELECT * FROM state") == []
        reading = SpoolDatabase.reading(tmp_path / "spool")
        try:
            assert reading.sent("018B00000000AAAAAAAA") == message().content
            assert reading.sent("018B00000000BBBBBBBB").startswith(b"Received: here\r\n")
            assert reading.sent("018B00000000CCCCCCCC") is None
        finally:
            reading.close()
        assert self.wait(spool.purge()) == 0  # finished just now
        self.reactor.advance(4 * 86400 + os.path.getmtime(tmp_path / "spool" / "spool.db"))
        assert self.wait(spool.purge()) == 2
        assert self.rows(tmp_path) == []
        assert list((tmp_path / "spool" / "large").iterdir()) == []

    def test_the_purge_goes_in_small_transactions(self, tmp_path, monkeypatch):
        monkeypatch.setattr(_database, "PURGE_CHUNK", 3)
        spool = self.makeSpool(tmp_path)
        for n in range(7):
            qid = f"018B0000000{n}AAAAAAAA"
            self.wait(spool.store(message(qid)))
            spool.remove(qid)
        self.reactor.advance(4 * 86400 + os.path.getmtime(tmp_path / "spool" / "spool.db"))
        assert self.wait(spool.purge()) == 7
        assert self.rows(tmp_path) == []

    def test_without_days_to_keep_a_finished_message_goes_with_its_file(self, tmp_path):
        spool = self.makeSpool(tmp_path, keepSent=0)
        self.wait(spool.store(message("Q1", content=spilled(spool))))
        assert [p.name for p in (tmp_path / "spool" / "large").iterdir()] == ["Q1"]
        spool.remove("Q1")
        spool = self.again(spool, tmp_path, keepSent=0)
        assert self.rows(tmp_path) == []
        assert list((tmp_path / "spool" / "large").iterdir()) == []

    def test_leftovers_of_a_crash_are_discarded_at_start(self, tmp_path):
        spool = self.makeSpool(tmp_path)
        self.wait(spool.store(message("Q1", content=spilled(spool))))
        root = tmp_path / "spool"
        (root / "incoming" / "spill-half").write_bytes(b"Subject: x\r\n")
        (root / "large" / "Q2").write_bytes(b"never committed")
        spool = self.again(spool, tmp_path)
        assert list((root / "incoming").iterdir()) == []
        assert [p.name for p in (root / "large").iterdir()] == ["Q1"]
        assert [m.qid for m, _ in self.wait(spool.load())] == ["Q1"]

    def test_a_failed_store_leaves_no_file(self, tmp_path):
        spool = self.makeSpool(tmp_path)
        content = spilled(spool)
        content.path.unlink()  # the body's file is gone: the copy fails
        with pytest.raises(OSError):
            self.wait(spool.store(message(content=content)))
        assert list((tmp_path / "spool" / "large").iterdir()) == []
        assert self.wait(spool.load()) == []

    def test_a_damaged_database_stops_the_start_with_its_name(self, tmp_path):
        (tmp_path / "spool").mkdir()
        (tmp_path / "spool" / "spool.db").write_bytes(b"not a database" * 1000)
        with pytest.raises(OSError) as caught:
            self.makeSpool(tmp_path)
        path = tmp_path / "spool" / "spool.db"
        assert caught.value.strerror.startswith(f"{path} is damaged (file is not a database)")
        assert f"sqlite3 {path} .recover" in caught.value.strerror

    def test_inspect_reads_beside_the_writer(self, tmp_path):
        spool = self.makeSpool(tmp_path)
        self.wait(spool.store(message("0123456789ABCDEF0001")))
        self.wait(spool.store(message("0123456789ABCDEF0002")))
        self.wait(spool.recordStates("0123456789ABCDEF0001", {0: {"status": "deferred"}}))
        reading = SpoolDatabase.reading(tmp_path / "spool")
        try:
            [(first, states), (second, _)] = reading.inspect()
            assert first["qid"] == "0123456789ABCDEF0001" and second["size"] == 20
            assert states == {0: {"status": "deferred"}}
            assert reading.inspectOne("0123456789ABCDEF0002")[0]["qid"].endswith("0002")
            assert reading.inspectOne("0123456789ABCDEF0003") is None
            assert reading.inspectOne("../etc") is None
            with pytest.raises(sqlite3.OperationalError):  # read-only
                reading.db.execute("DELETE FROM message")
        finally:
            reading.close()
        assert SpoolDatabase.reading(tmp_path / "nothing") is None

    def test_a_spool_is_read_by_a_relative_path(self, tmp_path, monkeypatch):
        # The default data directory is ./smtpeter-data.
        spool = self.makeSpool(tmp_path)
        self.wait(spool.store(message("0123456789ABCDEF0001")))
        monkeypatch.chdir(tmp_path)
        reading = SpoolDatabase.reading(Path("spool"))
        try:
            assert [meta["qid"] for meta, _ in reading.inspect()] == ["0123456789ABCDEF0001"]
        finally:
            reading.close()


def legacySpool(root):
    """A queue in files, as earlier versions wrote it: Q1 deferred once, Q2 spilled, Q3 damaged."""
    files = DiskSpool(root)
    files.prepare()
    files.store(message("Q1"))
    files.recordStates("Q1", {0: {"status": "deferred", "attempts": 1}})
    files.store(message("Q2", content=b"Subject: big\r\n\r\n" + b"z" * (2 << 20)))
    files.store(message("Q3"))
    (files.queue / "Q3").write_bytes((files.queue / "Q3").read_bytes()[:-5])
    files.close()
    return files


def test_a_queue_of_files_is_imported_at_start_and_its_files_go(tmp_path):
    legacySpool(tmp_path / "spool")
    spool = SpoolDatabase(tmp_path / "spool")
    spool.prepare()
    try:
        loaded = {m.qid: states for m, states in spool.load()}
        assert loaded == {"Q1": {0: {"status": "deferred", "attempts": 1}}, "Q2": {}}
        assert spool.readContent("Q1") == message().content
        assert spool.readContent("Q2").endswith(b"z" * 100)
        assert spool.readContent("Q2", 20) == b"Subject: big\r\n\r\nzzzz"  # a large one's head
        assert spool.readContent("Q1", 5) == message().content[:5]
        assert (tmp_path / "spool" / "large" / "Q2").is_file()  # large stays a file
        assert not (tmp_path / "spool" / "queue").exists()
        assert (tmp_path / "spool" / "corrupt" / "Q3").exists()  # damaged: kept aside
    finally:
        spool.close()


def test_an_import_cut_short_is_done_again_without_doubles(tmp_path, monkeypatch):
    legacySpool(tmp_path / "spool")
    unlink = os.unlink
    calls = []

    def crash(path, *args, **kwargs):
        calls.append(path)
        raise KeyboardInterrupt("the power went")

    spool = SpoolDatabase(tmp_path / "spool")
    monkeypatch.setattr(os, "unlink", crash)
    monkeypatch.setattr("pathlib.Path.unlink", lambda self, *a: crash(self))
    with pytest.raises(KeyboardInterrupt):
        spool.prepare()  # committed, but no file deleted yet
    spool.close()
    monkeypatch.undo()
    assert os.unlink is unlink and calls
    again = SpoolDatabase(tmp_path / "spool")
    again.prepare()
    try:
        assert sorted(m.qid for m, _ in again.load()) == ["Q1", "Q2"]
    finally:
        again.close()


def test_a_gone_workers_spool_is_adopted_with_everything_in_it(tmp_path):
    first = SpoolDatabase(tmp_path / "spool", keepSent=3)
    first.prepare()
    first.apply([("store", message("Q1"))])
    second = SpoolDatabase(tmp_path / "spool-2", keepSent=3)
    second.prepare()
    assert (
        second.apply(
            [
                ("store", message("Q2")),
                ("store", message("Q3")),
                ("states", "Q2", {1: {"status": "deferred"}}),
                ("finish", "Q3", 1700000001.0),
            ]
        )
        == [None] * 4
    )
    second.close()
    files = DiskSpool(tmp_path / "spool-2")
    files.prepare()
    files.store(message("Q4"))  # left by an earlier version in worker 2's queue
    assert first.adopt(tmp_path / "spool-2") == 2
    try:
        loaded = {m.qid: states for m, states in first.load()}
        assert loaded == {"Q1": {}, "Q2": {1: {"status": "deferred"}}, "Q4": {}}
        assert first.sent("Q3") == message().content
        assert not (tmp_path / "spool-2").exists()
    finally:
        first.close()


def test_the_sent_archive_of_files_is_read_and_purged(tmp_path):
    archive = SentArchive(tmp_path / "sent", 3)
    day = archive.root / "20231114"
    day.mkdir(parents=True)
    files = DiskSpool(tmp_path / "spool")
    files.prepare()
    files.store(message("Q1"))
    os.rename(files.queue / "Q1", day / "Q1")
    kept = archive.find("Q1")
    assert readQueueFile(kept)[1] == message().content
    assert archive.find("Q2") is None and archive.find("../Q1") is None
    assert archive.purge(1700000000) == 0
    assert archive.purge(1700000000 + 4 * 86400) == 1
    assert archive.find("Q1") is None


def test_held_lists_mail_kept_in_hold_mode_until_released_or_finished(tmp_path):
    spool = SpoolDatabase(tmp_path / "spool")
    spool.prepare()
    try:
        held = [
            evolve(message(q), options=Options(frozenset(), (), "dev", hold=True)) for q in "HI"
        ]
        work = [("store", m) for m in (*held, message("Q1"))]
        assert spool.apply(work) == [None] * 3
        assert spool.held() == ["H", "I"]
        released = {0: {"status": "pending", "released": True}}
        assert spool.apply([("states", "H", released), ("finish", "I", 1.0)]) == [None] * 2
        assert spool.held() == []
    finally:
        spool.close()
