"""A node's name is held by one running node at a time (on a real PostgreSQL)."""

import pytest

from smtpeter.process._nodename import NodeNameTaken, holdNodeName


@pytest.fixture
def connect(pgconnect):
    return pgconnect


def test_a_second_node_with_the_name_is_refused_until_the_first_stops(connect):
    first = holdNodeName(connect, "a")
    other = holdNodeName(connect, "b")
    with pytest.raises(NodeNameTaken, match=r"node 'a' is already running \(on .+, pid \d+\)"):
        holdNodeName(connect, "a")
    first.close()
    holdNodeName(connect, "a").close()
    other.close()
