"""A node's name is held by one running node at a time (on a real PostgreSQL)."""

import os
import signal
import time
from datetime import timedelta

import pytest

from smtpeter.process._heartbeat import Heartbeat
from smtpeter.process._nodename import LOCK_SPACE, NodeName, NodeNameTaken, holdNodeName, letGo

from ..conftest import eventually


@pytest.fixture
def connect(pgconnect):
    return pgconnect


def test_a_second_node_with_the_name_is_refused_until_the_first_stops(connect):
    first = holdNodeName(connect, "a")
    other = holdNodeName(connect, "b")
    with pytest.raises(NodeNameTaken, match=r"node 'a' is already running \(on .+, pid \d+\)"):
        holdNodeName(connect, "a")
    letGo(first)
    letGo(holdNodeName(connect, "a"))
    letGo(other)


def _held(connect, name: str) -> bool:
    """Whether another running node holds C{name} (a try to take it says so)."""
    try:
        letGo(holdNodeName(connect, name))
    except NodeNameTaken:
        return True
    return False


def _named(connect, lost):
    """A node's name with its heartbeat (every 0.1 s), as a running node holds it."""
    name = NodeName(connect, "a", lost)
    heartbeat = Heartbeat(name._db, "a", 1, timedelta(seconds=0.3), name._again)
    heartbeat.start()
    name._heartbeat = heartbeat
    return name


def _cut(connect, name: NodeName) -> None:
    """PostgreSQL ends the connection that holds the name (as a restart does), and its lock."""
    with connect() as admin:
        # With a timeout, it returns once the backend has ended (its lock gone with it).
        [ended] = admin.execute(
            "SELECT pg_terminate_backend(%s, 10000)", (name._db.info.backend_pid,)
        ).fetchone()
        admin.commit()
    assert ended


def _holder(connect, name: str) -> int | None:
    """The backend that holds C{name}, as PostgreSQL's lock table says (taking nothing)."""
    with connect() as look:
        row = look.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid = %s AND objsubid = 2"
            " AND objid = CAST(hashtext(current_schema() || %s)::bigint & 4294967295 AS oid)",
            (LOCK_SPACE, "/" + name),
        ).fetchone()
    return None if row is None else row[0]


def test_the_lock_table_names_the_holder(connect):
    assert _holder(connect, "a") is None
    held = holdNodeName(connect, "a")
    assert _holder(connect, "a") == held.info.backend_pid
    assert _held(connect, "a") and not _held(connect, "b")
    letGo(held)
    assert _holder(connect, "a") is None


def test_the_name_is_taken_again_once_its_connection_was_lost(connect):
    lost: list[str] = []
    name = _named(connect, lost.append)
    try:
        cut = name._db.info.backend_pid
        _cut(connect, name)
        again = eventually(
            lambda: _holder(connect, "a") not in (None, cut) and _holder(connect, "a"),
            timeout=10,
            what="the name held again",
        )
        assert again == name._db.info.backend_pid and lost == []
    finally:
        name.release()
    assert _holder(connect, "a") is None


def test_a_node_whose_name_another_took_meanwhile_is_told_once(connect):
    lost: list[str] = []
    name = _named(connect, lost.append)
    other = None
    try:
        name._heartbeat.stop()  # no new connection until the other has the name
        _cut(connect, name)
        assert _holder(connect, "a") is None
        other = holdNodeName(connect, "a")
        assert name._again() is None and name._again() is None
        assert len(lost) == 1
        assert "node 'a' is already running" in lost[0] and "--node NAME" in lost[0]
    finally:
        name.release()
        if other is not None:
            letGo(other)


def test_letting_go_waits_for_a_server_that_does_not_answer_only_so_long(connect):
    held = holdNodeName(connect, "a")
    backend = held.info.backend_pid
    os.kill(backend, signal.SIGSTOP)  # as a server whose machine vanished
    try:
        started = time.monotonic()
        letGo(held, wait=0.5)
        assert 0.5 <= time.monotonic() - started < 5
    finally:
        os.kill(backend, signal.SIGCONT)
    # Closed all the same: once its backend ends, the name is free.
    eventually(lambda: _holder(connect, "a") is None, timeout=10, what="the name let go")
