"""The hourly housekeeping: the spool's finished messages, old events, the old sent archive."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

from twisted.internet.defer import fail, succeed
from twisted.internet.task import Clock

from smtpeter.config import Config
from smtpeter.process._maintenance import purgeOld, purgeSpool

DAY = 86400


class PurgingStore:
    """Records the cut-off of each purge; answers C{purged} (or fails)."""

    def __init__(self, purged: int = 0, error: Exception | None = None) -> None:
        self.purged = purged
        self.error = error
        self.cutoffs: list[float] = []

    def purge(self, before: float | None = None):
        self.cutoffs.append(before)
        return fail(self.error) if self.error else succeed(self.purged)


def inThread(f, *args):
    return succeed(f(*args))


def test_events_older_than_the_retention_period_are_purged(tmp_path: Path) -> None:
    clock = Clock()
    clock.advance(100 * DAY)
    store = PurgingStore(purged=2)
    config = Config(data=tmp_path, hostname="gw.test", retention=timedelta(days=30))
    done = purgeOld(config, clock, store, inThread)
    assert store.cutoffs == [70 * DAY]
    assert done.called


def test_the_sent_archive_keeps_only_its_days(tmp_path: Path) -> None:
    now = time.time()
    old = tmp_path / "sent" / time.strftime("%Y%m%d", time.gmtime(now - 10 * DAY))
    new = tmp_path / "sent" / time.strftime("%Y%m%d", time.gmtime(now))
    for day in (old, new):
        day.mkdir(parents=True)
        (day / "0123456789abcdef0123").write_bytes(b"x")
    clock = Clock()
    clock.advance(now)
    config = Config(data=tmp_path, hostname="gw.test", keepSent=3)
    purgeOld(config, clock, PurgingStore(), inThread)
    assert sorted(os.listdir(tmp_path / "sent")) == [new.name]


def test_a_failed_purge_is_logged_not_raised(tmp_path: Path) -> None:
    store = PurgingStore(error=OSError("disk gone"))
    config = Config(data=tmp_path, hostname="gw.test")
    done = purgeOld(config, Clock(), store, inThread)
    assert done.called and done.result is None  # the failure was handled


class Spool:
    def __init__(self, result) -> None:
        self.result = result
        self.calls = 0

    def purge(self):
        self.calls += 1
        return self.result


def test_the_spool_purge_is_asked_and_its_failure_handled() -> None:
    spool = Spool(succeed(3))
    assert purgeSpool(spool).called and spool.calls == 1
    failing = purgeSpool(Spool(fail(OSError("spool gone"))))
    assert failing.called and failing.result is None
