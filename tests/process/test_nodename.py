"""A node's name is held by one running node at a time (on a real PostgreSQL)."""

from datetime import timedelta

import pytest

from smtpeter.process._heartbeat import Heartbeat
from smtpeter.process._nodename import NodeName, NodeNameTaken, holdNodeName, letGo

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
    """PostgreSQL ends the connection that holds the name (as a restart does)."""
    with connect() as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (name._db.info.backend_pid,))
        admin.commit()


def test_the_name_is_taken_again_once_its_connection_was_lost(connect):
    lost: list[str] = []
    name = _named(connect, lost.append)
    try:
        _cut(connect, name)
        eventually(lambda: _held(connect, "a"), timeout=5, what="the name held again")
        assert lost == []
    finally:
        name.release()
    assert not _held(connect, "a")


def test_a_node_whose_name_another_took_meanwhile_is_told_once(connect):
    lost: list[str] = []
    name = _named(connect, lost.append)
    other = None
    try:
        name._heartbeat.stop()  # no new connection until the other has the name
        _cut(connect, name)
        eventually(lambda: not _held(connect, "a"), timeout=5, what="the name let go")
        other = holdNodeName(connect, "a")
        assert name._again() is None and name._again() is None
        assert len(lost) == 1
        assert "node 'a' is already running" in lost[0] and "--node NAME" in lost[0]
    finally:
        name.release()
        if other is not None:
            letGo(other)
