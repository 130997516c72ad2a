"""ISpool contract, run against the in-memory spool and the disk spool."""

from __future__ import annotations

import gc
import os

import pytest
from twisted.internet.defer import maybeDeferred
from zope.interface.verify import verifyObject

from smtpeter.queue import (
    Envelope,
    ISpool,
    MemorySpool,
    Options,
    QueuedMessage,
    Recipient,
    ThreadedSpool,
)
from smtpeter.queue._spool import SentArchive, readQueueFile


class InlineSpool(ThreadedSpool):
    """The disk spool with its thread pool replaced by direct calls, for unit tests."""

    def _run(self, f, *args):
        return maybeDeferred(f, self.disk, *args)

    def _post(self, f, *args):
        f(self.disk, *args)


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


def result(d):
    out = []
    d.addBoth(out.append)
    [value] = out
    if hasattr(value, "raiseException"):
        value.raiseException()
    return value


class SpoolContract:
    def makeSpool(self, tmp_path):
        raise NotImplementedError

    def test_interface(self, tmp_path):
        assert verifyObject(ISpool, self.makeSpool(tmp_path))

    def test_store_load_read(self, tmp_path):
        spool = self.makeSpool(tmp_path)
        original = message()
        result(spool.store(original))
        [(loaded, states)] = result(spool.load())
        assert loaded.qid == "Q1" and states == {}
        assert loaded.envelope == original.envelope
        assert loaded.options.features == {"trackclicks"} and loaded.options.tags == ("t1",)
        assert loaded.received == original.received
        assert result(spool.readContent("Q1")) == original.content

    def test_states_last_one_wins(self, tmp_path):
        spool = self.makeSpool(tmp_path)
        result(spool.store(message()))
        result(
            spool.recordStates("Q1", {0: {"status": "pending", "n": 1}, 1: {"status": "pending"}})
        )
        result(spool.recordStates("Q1", {0: {"status": "delivered", "n": 2}}))
        [(_, states)] = result(spool.load())
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
        result(spool.store(message(content=content)))
        incoming.discard()
        assert result(spool.readContent("Q1")) == b"Received: here\r\nSubject: x\r\n" + body + big

    def test_remove(self, tmp_path):
        spool = self.makeSpool(tmp_path)
        result(spool.store(message()))
        result(spool.recordStates("Q1", {0: {"status": "delivered"}}))
        result(spool.remove("Q1"))
        assert result(spool.load()) == []


class TestMemorySpool(SpoolContract):
    def makeSpool(self, tmp_path):
        return MemorySpool()


class TestDiskSpool(SpoolContract):
    def makeSpool(self, tmp_path):
        spool = InlineSpool(tmp_path / "spool", reactor=None)
        spool.disk.prepare()
        return spool

    def test_incoming_leftovers_are_discarded_at_start(self, tmp_path):
        spool = self.makeSpool(tmp_path)
        (spool.disk.incoming / "HALF").write_bytes(b"smtpeter-spool 1\n{")
        spool.disk.prepare()
        assert list(spool.disk.incoming.iterdir()) == []

    def test_a_failed_store_leaves_nothing_in_incoming(self, tmp_path):
        spool = self.makeSpool(tmp_path)
        incoming = spool.incoming()
        incoming.write(b"Subject: x\r\n\r\n" + b"y" * (2 * 1024 * 1024))
        content = incoming.finish(b"Subject: x\r\n")
        content.path.unlink()  # the body's file is gone: the copy fails
        with pytest.raises(OSError):
            result(spool.store(message(content=content)))
        assert list(spool.disk.incoming.iterdir()) == []
        assert result(spool.load()) == []

    def test_damaged_queue_file_is_kept_aside_not_deleted(self, tmp_path):
        spool = self.makeSpool(tmp_path)
        result(spool.store(message("Q1")))
        result(spool.store(message("Q2")))
        path = spool.disk.queue / "Q2"
        path.write_bytes(path.read_bytes()[:-5])  # the end marker is gone
        assert [m.qid for m, _ in result(spool.load())] == ["Q1"]
        assert (spool.disk.corrupt / "Q2").exists()

    def test_torn_state_line_is_ignored(self, tmp_path):
        spool = self.makeSpool(tmp_path)
        result(spool.store(message()))
        result(spool.recordStates("Q1", {0: {"status": "pending", "n": 1}}))
        with open(spool.disk.queue / "Q1.state", "ab") as f:
            f.write(b'{"rcpt":0,"status":"deliv')
        [(_, states)] = result(spool.load())
        assert states == {0: {"status": "pending", "n": 1}}

    def test_orphan_state_file_is_removed(self, tmp_path):
        spool = self.makeSpool(tmp_path)
        (spool.disk.queue / "GONE.state").write_bytes(b'{"rcpt":0}\n')
        assert result(spool.load()) == []
        assert not (spool.disk.queue / "GONE.state").exists()

    def test_file_is_on_disk_before_it_appears_in_the_queue(self, tmp_path, monkeypatch):
        spool = self.makeSpool(tmp_path)
        queued = lambda: sorted(p.name for p in spool.disk.queue.iterdir())  # noqa: E731
        events = []
        real = {name: getattr(os, name) for name in ("open", "write", "rename", "fsync")}

        def open_(path, flags, *args):
            if "incoming" in str(path):
                events.append(("open", bool(flags & os.O_DSYNC)))
            return real["open"](path, flags, *args)

        def write(fd, data):
            written = real["write"](fd, data)
            events.append(("written", queued()))
            return written

        def rename(source, target):
            real["rename"](source, target)
            events.append(("renamed", queued()))

        def fsync(fd):
            events.append(("fsync", queued()))
            real["fsync"](fd)

        for name, f in (("open", open_), ("write", write), ("rename", rename), ("fsync", fsync)):
            monkeypatch.setattr(os, name, f)
        result(spool.store(message()))
        result(spool.store(message(qid="Q2")))
        # Each write is synchronous (O_DSYNC: its data is on disk when it
        # returns) while the message is not yet in the queue; the rename
        # makes it appear and the directory is fsynced after it.
        one = [("open", True), ("written", []), ("renamed", ["Q1"]), ("fsync", ["Q1"])]
        two = [("open", True), ("written", ["Q1"]), ("renamed", ["Q1", "Q2"])]
        assert events == one + two + [("fsync", ["Q1", "Q2"])]

    def test_the_queue_directory_is_opened_once_and_closed_at_stop(self, tmp_path):
        spool = self.makeSpool(tmp_path)
        descriptors = lambda: len(os.listdir("/proc/self/fd"))  # noqa: E731
        result(spool.store(message()))
        gc.collect()  # earlier tests' unreachable files must not close during the count
        before = descriptors()
        for n in range(20):
            result(spool.store(message(qid=f"Q{n + 2}")))
        assert descriptors() == before
        spool.stop()
        assert descriptors() == before - 1


def test_content_with_marker_like_bytes_roundtrips(tmp_path):
    spool = InlineSpool(tmp_path / "spool", reactor=None)
    spool.disk.prepare()
    tricky = b"Subject: x\r\n\r\nsmtpeter-spool-end\n\nsmtpeter-spool 1\n"
    result(spool.store(message(content=tricky)))
    assert result(spool.readContent("Q1")) == tricky


@pytest.mark.parametrize("count", [0, 3])
def test_free_bytes_is_positive(tmp_path, count):
    spool = InlineSpool(tmp_path / "spool", reactor=None)
    spool.disk.prepare()
    assert spool.freeBytes() > 0


def test_missing_end_marker_is_found_without_reading_the_message(tmp_path):
    spool = InlineSpool(tmp_path / "spool", reactor=None)
    spool.disk.prepare()
    result(spool.store(message("Q1")))
    path = spool.disk.queue / "Q1"
    data = path.read_bytes()
    path.write_bytes(data[:-3] + b"xx\n")  # same length, marker damaged
    assert result(spool.load()) == []
    assert (spool.disk.corrupt / "Q1").exists()


def test_inspect_reports_without_moving_anything(tmp_path):
    spool = InlineSpool(tmp_path / "spool", reactor=None)
    spool.disk.prepare()
    result(spool.store(message("Q1")))
    result(spool.store(message("Q2")))
    result(spool.recordStates("Q1", {0: {"status": "delivered"}}))
    (spool.disk.queue / "Q2").write_bytes(b"garbage")
    [(first, states), (second, _)] = spool.disk.inspect()
    assert first["qid"] == "Q1" and states == {0: {"status": "delivered"}}
    assert second["qid"] == "Q2" and "damaged" in second
    assert (spool.disk.queue / "Q2").exists()


def test_finished_messages_are_kept_in_the_sent_archive_for_its_days(tmp_path):
    archive = SentArchive(tmp_path / "sent", 3)
    spool = InlineSpool(tmp_path / "spool", reactor=None, sent=archive)
    spool.disk.prepare()
    result(spool.store(message("Q1")))
    result(spool.recordStates("Q1", {0: {"status": "delivered"}}))
    result(spool.remove("Q1"))
    assert not (spool.disk.queue / "Q1").exists()
    assert not (spool.disk.queue / "Q1.state").exists()
    kept = archive.find("Q1")
    assert readQueueFile(kept)[1] == b"Subject: x\r\n\r\nbody\r\n"
    assert archive.find("Q2") is None and archive.find("../Q1") is None
    result(spool.remove("Q1"))  # removing twice is harmless
    old = archive.root / "20000101"
    old.mkdir()
    (old / "Q0").write_bytes(b"x")
    assert archive.purge(os.path.getmtime(kept)) == 1
    assert not old.exists() and archive.find("Q1") == kept
    assert archive.purge(os.path.getmtime(kept) + 4 * 86400) == 1
    assert archive.find("Q1") is None


def test_remove_unlinks_a_state_file_only_for_messages_that_have_one(tmp_path, monkeypatch):
    spool = InlineSpool(tmp_path / "spool", reactor=None)
    spool.disk.prepare()
    for qid in ("Q1", "Q2", "Q3"):
        result(spool.store(message(qid)))
    result(spool.recordStates("Q2", {0: {"status": "deferred"}}))
    result(spool.recordStates("Q3", {0: {"status": "deferred"}}))
    # A new start knows the state files from the disk.
    again = InlineSpool(tmp_path / "spool", reactor=None)
    assert len(result(again.load())) == 3
    unlinked = []
    unlink = os.unlink
    monkeypatch.setattr(os, "unlink", lambda path: (unlinked.append(path), unlink(path))[1])
    for qid in ("Q1", "Q2", "Q3"):
        result(again.remove(qid))
    assert [os.path.basename(p) for p in unlinked] == ["Q1", "Q2", "Q2.state", "Q3", "Q3.state"]
    assert list(again.disk.queue.iterdir()) == []


def test_the_spool_threads_are_not_batch_work_for_every_250_waits_for_them(tmp_path):
    from ..store.test_contract import PumpedReactor

    reactor = PumpedReactor()
    spool = ThreadedSpool(tmp_path, reactor)
    spool.start()
    try:
        policy = reactor.wait(spool._run(lambda disk: os.sched_getscheduler(0)))
    finally:
        spool.stop()
    assert policy == os.SCHED_OTHER
