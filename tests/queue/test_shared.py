"""
The shared queue's database (L{smtpeter.queue._shared}) on a real
PostgreSQL: claims, leases, fencing, takeover.
"""

import tempfile
import time
from contextlib import contextmanager

import psycopg
import pytest
from prometheus_client import REGISTRY
from psycopg import pq

from smtpeter.admin._sharedqueue import sharedEntry, sharedSent
from smtpeter.message import Envelope, Options, QueuedMessage, Recipient
from smtpeter.queue import ClaimLost, SharedQueueDatabase
from smtpeter.runtime import PostgreSQL
from smtpeter.store import openDatabase
from smtpeter.testing import PostgreSQLServer

from .conftest import databaseNow, leases


@pytest.fixture
def connect(pgconnect):
    return pgconnect


def worker(connect, owner="a/1", lease=60.0):
    return SharedQueueDatabase(connect, owner, owner.split("/")[0], lease)


def message(qid="0000000000000000000A", hold=False, recipients=("r@example.com",)):
    envelope = Envelope("s@example.com", tuple(Recipient(r) for r in recipients))
    return QueuedMessage(
        qid, envelope, Options(hold=hold), time.time() - 1, b"Subject: x\r\n\r\nbody\r\n", False
    )


def _sample(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def test_stored_message_is_claimed_by_its_worker(connect):
    a, b = worker(connect, "a/1"), worker(connect, "b/1")
    assert a.apply([("store", message())]) == [None]
    assert a.claims == {"0000000000000000000A": 1}
    assert b.claim(10) == []
    assert a.readContent("0000000000000000000A") == b"Subject: x\r\n\r\nbody\r\n"


def test_released_message_is_claimed_by_another_worker_with_its_states(connect):
    a, b = worker(connect, "a/1"), worker(connect, "b/1")
    a.apply([("store", message())])
    state = {"status": "pending", "attempts": 1, "next": 0.0}
    assert a.apply([("release", "0000000000000000000A", {0: state}, time.time() - 1)]) == [None]
    assert a.claims == {}
    takeovers = _sample("smtpeter_queue_lease_takeovers_total")
    claims = _sample("smtpeter_queue_claims_total")
    [(found, states)] = b.claim(10)
    # Released, not taken over: a claim, no takeover.
    assert _sample("smtpeter_queue_claims_total") == claims + 1
    assert _sample("smtpeter_queue_lease_takeovers_total") == takeovers
    assert found.qid == "0000000000000000000A"
    assert found.envelope.recipients[0].address == "r@example.com"
    assert states == {0: state}
    assert b.claims == {"0000000000000000000A": 2}


def test_not_due_is_not_claimed(connect):
    a, b = worker(connect, "a/1"), worker(connect, "b/1")
    a.apply([("store", message())])
    a.apply([("release", "0000000000000000000A", {}, time.time() + 3600)])
    assert b.claim(10) == []


def test_expired_lease_is_taken_over_and_fences_the_old_owner(connect, sharedQueued):
    # (That b cannot claim it while the lease runs is the first test's, on a long lease.)
    a, b = worker(connect, "a/1", lease=0.2), worker(connect, "b/1")
    a.apply([("store", message())])
    time.sleep(0.3)
    takeovers = _sample("smtpeter_queue_lease_takeovers_total")
    [(found, _)] = b.claim(10)
    assert _sample("smtpeter_queue_lease_takeovers_total") == takeovers + 1
    assert b.claims == {found.qid: 2}
    assert not a.holds(found.qid)
    assert b.holds(found.qid)
    [lost] = a.apply([("release", found.qid, {0: {"status": "delivered"}}, None)])
    assert isinstance(lost, ClaimLost)
    [lost] = a.apply([("finish", found.qid, time.time())])
    assert isinstance(lost, ClaimLost)
    # Nothing of the old owner's was written; the new owner's outcome is.
    assert sharedQueued()[0][1] == {}
    assert b.apply([("finish", found.qid, time.time())]) == [None]
    assert sharedQueued() == []


def test_renew_keeps_leases_and_reports_the_lost(connect):
    both = {"0000000000000000000A", "0000000000000000000B"}
    a, b = worker(connect, "a/1", lease=0.3), worker(connect, "b/1")
    a.apply([("store", message(qid)) for qid in sorted(both)])
    stored = leases(connect)
    between = databaseNow(connect)
    assert a.renew() == []
    # Renewed: each lease now runs a whole lease from the renewal, which came
    # after a moment its first lease ran less than that from (whether or not
    # it had run out meanwhile: nobody took it).
    renewed = leases(connect)
    assert stored.keys() == renewed.keys() == both
    assert all(stored[qid] < between + 0.3 <= renewed[qid] for qid in both)
    assert a.claims == dict.fromkeys(both, 1)
    time.sleep(0.4)  # past the renewed lease
    assert len(b.claim(1)) == 1
    assert len(a.renew()) == 1
    assert len(a.claims) == 1


def rows(connect) -> dict[str, int]:
    """How many rows each of the shared queue's tables holds (bodies: queued, kept)."""
    with connect() as db:
        counts = {
            table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("queue_messages", "queue_recipients")
        }
        counts["queued"], counts["kept"] = db.execute(
            "SELECT count(*) FILTER (WHERE finished IS NULL),"
            " count(*) FILTER (WHERE finished IS NOT NULL) FROM queue_bodies"
        ).fetchone()
    return counts


@pytest.mark.parametrize("keepSent", [0, 1])
def test_finish_removes_every_row_but_the_kept_body(connect, keepSent):
    a = SharedQueueDatabase(connect, "a/1", "a", 60.0, keepSent=keepSent)
    a.apply([("store", message()), ("store", message("0000000000000000000B"))])
    a.apply([("states", "0000000000000000000A", {0: {"status": "pending"}})])
    a.apply([("states", "0000000000000000000B", {0: {"status": "pending"}})])
    assert a.apply([("finish", "0000000000000000000A", time.time())]) == [None]
    # B, still queued, keeps every row of its own.
    assert rows(connect) == {
        "queue_messages": 1,
        "queue_recipients": 1,
        "queued": 1,
        "kept": keepSent,
    }


def test_states_recorded_with_the_finish_leave_no_recipient_behind(connect):
    """A message's last states and its finish, in one transaction (one group commit)."""
    a = worker(connect)
    a.apply([("store", message())])
    qid = "0000000000000000000A"
    assert a.apply(
        [("states", qid, {0: {"status": "delivered"}}), ("finish", qid, time.time())]
    ) == [None, None]
    assert rows(connect) == {"queue_messages": 0, "queue_recipients": 0, "queued": 0, "kept": 0}


def test_a_finish_whose_claim_is_lost_leaves_every_row(connect):
    a = SharedQueueDatabase(connect, "a/1", "a", 60.0, keepSent=1)
    a.apply([("store", message())])
    a.apply([("states", "0000000000000000000A", {0: {"status": "pending"}})])
    a.claims["0000000000000000000A"] = 7  # not the claim the queue holds
    [lost] = a.apply([("finish", "0000000000000000000A", time.time())])
    assert isinstance(lost, ClaimLost)
    assert rows(connect) == {"queue_messages": 1, "queue_recipients": 1, "queued": 1, "kept": 0}


def test_held_mail_is_nobodys_until_claimed_for_a_request(connect):
    a, b = worker(connect, "a/1"), worker(connect, "b/1")
    a.apply([("store", message(hold=True))])
    assert a.claims == {}
    assert b.claim(10) == []
    assert b.claimOne("0000000000000000000A", held=True) is not None
    assert a.claimOne("0000000000000000000A") is None


def test_one_bad_item_fails_only_itself(connect, sharedQueued):
    a = worker(connect)
    a.apply([("store", message("0000000000000000000A"))])
    results = a.apply(
        [("store", message("0000000000000000000A")), ("store", message("0000000000000000000B"))]
    )
    assert results[0] is not None and results[1] is None
    assert sorted(m["qid"] for m, _ in sharedQueued()) == [
        "0000000000000000000A",
        "0000000000000000000B",
    ]


def test_predecessor_claims_are_released(connect):
    a = worker(connect, "a/1")
    a.apply([("store", message())])
    again = worker(connect, "a/1")
    assert again.forgetPredecessor() == 1
    assert len(again.claim(10)) == 1


def test_postgresql_restarted_between_writes_costs_no_refusal(postgresql):
    """A connection found gone before anything was done is made again, and the work done."""
    server = PostgreSQLServer(postgresql.bindir)  # of its own: this test stops it
    server.start()
    try:
        uri = server.database()
        openDatabase(PostgreSQL(uri)).close()
        a = worker(lambda: psycopg.connect(uri))
        assert a.apply([("store", message("0000000000000000000A"))]) == [None]
        server.halt()
        server.resume()
        assert a.apply([("store", message("0000000000000000000B"))]) == [None]
        assert a.renew() == []
        server.halt()
        server.resume()
        assert a.readContent("0000000000000000000B").startswith(b"Subject: x")
        reader = SharedQueueDatabase(lambda: psycopg.connect(uri), "a/1", "a", 60, reading=True)
        assert reader.holds("0000000000000000000B") is False  # not this reader's claims
        server.halt()
        server.resume()
        assert reader.readContent("0000000000000000000B").startswith(b"Subject: x")
    finally:
        server.stop()


def test_a_finished_message_is_kept_for_keep_sent_and_then_purged(
    connect, sharedQueued, postgresDatabase
):
    a = SharedQueueDatabase(connect, "a/1", "a", 60.0, keepSent=1)
    a.apply([("store", message()), ("store", message("0000000000000000000B"))])
    assert a.apply([("finish", "0000000000000000000A", 1000.0)]) == [None]
    assert [m["qid"] for m, _ in sharedQueued()] == ["0000000000000000000B"]
    admin = openDatabase(PostgreSQL(postgresDatabase))
    try:
        # The administration reads it as sent, not as queued; the workers not at all.
        assert sharedSent(admin, "0000000000000000000A") == b"Subject: x\r\n\r\nbody\r\n"
        assert sharedEntry(admin, "0000000000000000000A", True) is None
        with pytest.raises(FileNotFoundError):
            a.readContent("0000000000000000000A")
        # The queued one the other way round.
        assert sharedSent(admin, "0000000000000000000B") is None
        assert sharedEntry(admin, "0000000000000000000B", True)[0].startswith(b"Subject: x")
        assert a.purgeSent(999.0) == 0
        assert sharedSent(admin, "0000000000000000000A") is not None
        assert a.purgeSent(1001.0) == 1
        assert sharedSent(admin, "0000000000000000000A") is None
        assert a.purgeSent(time.time() + 60) == 0  # the queued body is no finished one
        assert a.readContent("0000000000000000000B").startswith(b"Subject: x")
    finally:
        admin.close()


def test_the_purge_goes_in_bounded_batches(connect):
    a = SharedQueueDatabase(connect, "a/1", "a", 60.0, keepSent=1)
    qids = [f"00000000000000000{n:03d}" for n in range(5)]
    a.apply([("store", message(qid)) for qid in qids])
    assert a.apply([("finish", qid, 1000.0) for qid in qids]) == [None] * 5
    assert [a.purgeSent(1001.0, limit=2) for _ in range(4)] == [2, 2, 1, 0]
    assert rows(connect)["kept"] == 0


@contextmanager
def roundTrips(database: SharedQueueDatabase):
    """
    Counts the round trips to PostgreSQL on C{database}'s connection in the
    block (from libpq's trace: each ends with the server's ReadyForQuery):
    a list that holds the count once the block is over.
    """
    counted: list[int] = []
    with tempfile.TemporaryFile("w+") as trace:
        database.db.pgconn.trace(trace.fileno())
        database.db.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            yield counted
        finally:
            database.db.pgconn.untrace()
        trace.seek(0)
        counted.append(trace.read().count("ReadyForQuery"))


def test_a_group_commit_is_timed(connect):
    before = _sample("smtpeter_database_commit_seconds_count")
    worker(connect).apply([("store", message())])
    assert _sample("smtpeter_database_commit_seconds_count") == before + 1


def test_a_group_commit_takes_one_round_trip_however_many_messages(connect, sharedQueued):
    """New and finished messages are one statement: its own transaction."""
    a = SharedQueueDatabase(connect, "a/1", "a", 60.0, keepSent=1)
    qids = [f"{i:020X}" for i in range(20)]
    assert a.db.autocommit  # connected first: the count is of the writes alone
    with roundTrips(a) as counted:
        assert a.apply([("store", message(qid)) for qid in qids[:10]]) == [None] * 10
    assert counted == [1]
    with roundTrips(a) as counted:
        assert a.apply([("finish", qid, 1000.0) for qid in qids[:5]]) == [None] * 5
    assert counted == [1]
    work = [("finish", qid, 1000.0) for qid in qids[5:10]]
    work += [("store", message(qid)) for qid in qids[10:]]
    with roundTrips(a) as counted:
        assert a.apply(work) == [None] * 15
    assert counted == [1]
    assert [m["qid"] for m, _ in sharedQueued()] == qids[10:]


def test_a_connection_closed_while_idle_is_found_before_anything_is_sent(connect, postgresql):
    """
    Its end of file is waiting: the BEGIN is answered first, fails, and the
    work is done on a new connection (a one-statement write on the old one
    could not be told from a lost commit).
    """
    a = worker(connect)
    assert a.apply([("store", message("0000000000000000000A"))]) == [None]
    old = a.db
    with psycopg.connect(postgresql.uri(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (old.info.backend_pid,))
    deadline = time.monotonic() + 5
    while a._fresh() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert a.apply([("store", message("0000000000000000000B"))]) == [None]
    assert a.db is not old
    assert a.readContent("0000000000000000000B").startswith(b"Subject: x")


def test_states_of_a_group_commit_take_one_more_round_trip_and_follow_the_claim(
    connect, sharedQueued
):
    a, b = worker(connect, "a/1", lease=0.2), worker(connect, "b/1")
    a.apply([("store", message(f"{i:020X}")) for i in range(3)])
    time.sleep(0.3)
    [(taken, _)] = b.claim(1)
    a.renew()  # the two a still holds, renewed; the third is b's now
    pending = {0: {"status": "pending", "attempts": 1}}
    work = [("states", f"{i:020X}", pending) for i in range(3)]
    work.append(("release", "00000000000000000001", pending, time.time() + 3600))
    with roundTrips(a) as counted:
        results = a.apply(work)
    assert counted == [2]  # the statements and their BEGIN, then the states and the COMMIT
    lost = int(taken.qid, 16)
    assert [isinstance(r, ClaimLost) for r in results] == [i == lost for i in range(3)] + [
        lost == 1
    ]
    states = {m["qid"]: s for m, s in sharedQueued()}
    assert states[taken.qid] == {}  # nothing of the old owner's
    assert all(states[q] == pending for q in states if q != taken.qid)


def test_a_reading_connection_reads_in_one_round_trip(connect):
    a = worker(connect)
    a.apply([("store", message())])
    reader = SharedQueueDatabase(connect, "a/1", "a", 60.0, a.claims, reading=True)
    assert reader.db.autocommit  # connected first: the count is of reads alone
    with roundTrips(reader) as counted:
        assert reader.holds("0000000000000000000A")
        assert reader.readContent("0000000000000000000A").startswith(b"Subject: x")
    assert counted == [2]


def test_state_counts_are_the_whole_queue_s_whoever_holds_it(connect):
    a, b = worker(connect, "a/1"), worker(connect, "b/1")
    a.apply([("store", message("0000000000000000000A"))])  # a's, being delivered
    b.apply([("store", message("0000000000000000000B", hold=True))])
    b.apply([("store", message("0000000000000000000C"))])
    state = {"status": "pending", "attempts": 1, "next": 0.0}
    b.apply([("release", "0000000000000000000C", {0: state}, time.time() + 600)])
    expected = {"ready": 1, "scheduled": 1, "held": 1}
    assert a.stateCounts() == b.stateCounts() == expected


def _cutAfter(monkeypatch, database: SharedQueueDatabase, method: str, admin, found=True):
    """
    C{database}'s C{method} runs, once, then PostgreSQL ends its connection
    (as a restart does): with C{found}, the loss is found at once (what
    was sent may have been committed); else by the next statement.
    """
    original = getattr(database, method)

    def cut(*args, **kwargs):
        result = original(*args, **kwargs)
        monkeypatch.setattr(database, method, original)
        admin.execute("SELECT pg_terminate_backend(%s)", (database.db.info.backend_pid,))
        if found:
            database.db.execute("SELECT 1")
        return result

    monkeypatch.setattr(database, method, cut)


@pytest.fixture
def admin(postgresql):
    with psycopg.connect(postgresql.uri(), autocommit=True) as db:
        yield db


def test_messages_stored_when_the_connection_was_lost_are_not_refused(
    connect, sharedQueued, admin, monkeypatch
):
    """Stored again they would be refused as duplicates, and their clients send second copies."""
    a = worker(connect)
    qids = ["0000000000000000000A", "0000000000000000000B"]
    _cutAfter(monkeypatch, a, "_doAll", admin)
    assert a.apply([("store", message(qid)) for qid in qids]) == [None, None]
    assert [m["qid"] for m, _ in sharedQueued()] == qids
    assert all(a.claims.get(qid) == 1 for qid in qids)
    assert a.renew() == []
    assert all(a.claims.sure(qid) for qid in qids)


def test_a_finish_that_failed_is_no_longer_claimed(postgresql, connect):
    """Its lease runs out, and another worker takes the message from its last states."""
    down: list[bool] = []

    def connecting():
        if down:
            raise psycopg.OperationalError("PostgreSQL is away")
        return connect()

    a, b = worker(connecting, "a/1", lease=0.3), worker(connect, "b/1")
    assert a.apply([("store", message())]) == [None]
    with psycopg.connect(postgresql.uri(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (a.db.info.backend_pid,))
    down.append(True)
    [failed] = a.apply([("finish", "0000000000000000000A", 1000.0)])
    assert isinstance(failed, psycopg.OperationalError)
    assert "0000000000000000000A" not in a.claims
    down.clear()
    assert a.renew() == []  # nothing of it renewed
    time.sleep(0.4)
    [(taken, _)] = b.claim(10)
    assert taken.qid == "0000000000000000000A"


def test_a_claim_whose_commit_failed_is_not_held(connect, sharedQueued, admin, monkeypatch):
    a = worker(connect, "a/1")
    a.apply([("store", message())])
    a.apply([("release", "0000000000000000000A", {}, time.time() - 1)])
    _cutAfter(monkeypatch, a, "_claimed", admin, found=False)  # found by the COMMIT
    with pytest.raises(psycopg.OperationalError):
        a.claim(10)
    assert "0000000000000000000A" not in a.claims
