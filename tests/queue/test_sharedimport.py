"""
L{SharedQueueDatabase.importQueued} on a real PostgreSQL: mail queued
elsewhere (a stopped SQLite gateway's spools, by C{smtpeter db copy}) goes
into the shared queue as it was, nobody's, due when it was, held mail held;
all of it or none of it.
"""

import time

import psycopg
import pytest

from smtpeter.message import Envelope, Options, QueuedMessage, Recipient
from smtpeter.queue import SharedQueueDatabase, _sharedimport

DUE, LATER, HELD = "0000000000000000000A", "0000000000000000000B", "0000000000000000000C"
DEFERRED = {"status": "pending", "attempts": 2, "next": 0.0, "last": "451 4.3.0 not now"}
DONE = {"status": "delivered", "attempts": 1, "next": 0.0, "last": "250 ok"}


def worker(connect, owner="a/1"):
    return SharedQueueDatabase(connect, owner, owner.split("/")[0], 60.0)


def message(qid, hold=False, received=None):
    envelope = Envelope("s@example.com", (Recipient("a@example.com"), Recipient("b@example.com")))
    body = f"Subject: {qid}\r\n\r\nbody\r\n".encode()
    return QueuedMessage(
        qid, envelope, Options(hold=hold), received or time.time() - 60, body, False
    )


def mail():
    """One due now (one recipient done, one deferred), one due in an hour, one held."""
    now = time.time()
    return [
        (message(DUE), {0: DONE, 1: {**DEFERRED, "next": now - 5}}, now - 5),
        (message(LATER), {0: {**DEFERRED, "next": now + 3600}}, now + 3600),
        (message(HELD, hold=True, received=now - 7200), {}, None),
    ]


def test_imported_mail_is_nobodys_and_due_as_it_was(pgconnect, sharedQueued):
    importer = worker(pgconnect, "copy/0")
    assert importer.importQueued(mail()) == 3
    assert importer.claims == {}
    a = worker(pgconnect, "a/1")
    [(found, states)] = a.claim(10)
    # The one due now, with its states: the done recipient stays done.
    assert found.qid == DUE and [r.address for r in found.envelope.recipients] == [
        "a@example.com",
        "b@example.com",
    ]
    assert states[0] == DONE and states[1]["attempts"] == 2
    assert states[1]["last"] == "451 4.3.0 not now"
    assert a.claims == {DUE: 1}
    assert a.readContent(DUE) == f"Subject: {DUE}\r\n\r\nbody\r\n".encode()
    # Not due yet, and held: not claimed.
    assert worker(pgconnect, "b/1").claim(10) == []
    # Held mail is there for a request (a release), and for its expiry.
    b = worker(pgconnect, "b/1")
    claimed = b.claimOne(HELD, held=True)
    assert claimed is not None and claimed[0].options.hold is True
    assert worker(pgconnect, "c/1").claimHeld(time.time() - 3600, 10) == []
    assert sorted(meta["qid"] for meta, _ in sharedQueued()) == [DUE, LATER, HELD]


def test_held_mail_old_enough_expires(pgconnect):
    worker(pgconnect, "copy/0").importQueued(mail())
    [(found, _)] = worker(pgconnect, "a/1").claimHeld(time.time() - 3600, 10)
    assert found.qid == HELD


def test_nothing_is_imported_if_one_message_is_queued_already(pgconnect, sharedQueued):
    a = worker(pgconnect, "a/1")
    a.apply([("store", message(LATER))])
    with pytest.raises(psycopg.IntegrityError):
        worker(pgconnect, "copy/0").importQueued(mail())
    assert [meta["qid"] for meta, _ in sharedQueued()] == [LATER]


def test_on_a_connection_lent_in_a_transaction_it_is_part_of_it(pgconnect, sharedQueued):
    """As C{db copy} lends it: the copy's transaction commits it, or rolls it back."""
    lent = pgconnect()
    lent.autocommit = True
    lent.execute("BEGIN")
    assert worker(lambda: lent, "copy/0").importQueued(mail()) == 3
    lent.execute("ROLLBACK")
    assert sharedQueued() == []
    lent.execute("BEGIN")
    worker(lambda: lent, "copy/0").importQueued(mail())
    assert sharedQueued() == []  # not before the commit
    lent.execute("COMMIT")
    assert len(sharedQueued()) == 3
    lent.close()


def test_a_large_import_waits_for_postgresql_as_it_goes(pgconnect, monkeypatch, sharedQueued):
    """Bodies are handed over in parts, not held in memory all at once; still all or nothing."""
    monkeypatch.setattr(_sharedimport, "SYNC_BYTES", 1)
    a = worker(pgconnect, "a/1")
    a.apply([("store", message(HELD))])
    with pytest.raises(psycopg.IntegrityError):
        worker(pgconnect, "copy/0").importQueued(mail())  # HELD, last, is there already
    assert [meta["qid"] for meta, _ in sharedQueued()] == [HELD]
    a.apply([("finish", HELD, time.time())])
    assert worker(pgconnect, "copy/0").importQueued(mail()) == 3
    assert sorted(meta["qid"] for meta, _ in sharedQueued()) == [DUE, LATER, HELD]
