"""
A node's heartbeat (L{smtpeter.process._heartbeat}): written at start and
then every few seconds from a thread of its own, on the connection that
holds the node's name; nothing more once stopped.
"""

from __future__ import annotations

import time
from datetime import timedelta

from smtpeter.process._heartbeat import Heartbeat, beatInterval
from smtpeter.process._nodename import holdNodeName

from ..conftest import eventually


def test_the_interval_is_five_seconds_or_a_third_of_a_shorter_lease():
    assert beatInterval(timedelta(seconds=60)) == 5.0
    assert beatInterval(timedelta(seconds=6)) == 2.0


def test_beats_until_stopped(pgconnect):
    db = holdNodeName(pgconnect, "a")
    look = pgconnect()
    look.autocommit = True

    def seen():
        return look.execute("SELECT seen, workers, lease FROM nodes WHERE name = 'a'").fetchone()

    try:
        assert seen()[0] is None  # named, no heartbeat yet
        heartbeat = Heartbeat(db, "a", 3, timedelta(seconds=0.3))
        heartbeat.start()
        first, workers, lease = seen()
        assert first is not None and (workers, lease) == (3, 0.3)
        eventually(lambda: seen()[0] > first, timeout=5, what="a second heartbeat")
        heartbeat.stop()
        last = seen()[0]
        time.sleep(0.3)  # three intervals
        assert seen()[0] == last
    finally:
        db.close()
        look.close()
