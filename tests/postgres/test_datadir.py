"""
A node's start on PostgreSQL leaves the workers' SQLite spools in its data
directory as they are (smtpeter.process._datadir): no spool is adopted by
worker 1 whatever C{--workers}, none is made, and spools that still hold
queued mail are named in one warning.
"""

from __future__ import annotations

from twisted.logger import formatEvent, globalLogPublisher

from smtpeter.config import Config
from smtpeter.message import Envelope, Options, QueuedMessage, Recipient
from smtpeter.process import prepareDataDirectory
from smtpeter.queue import SpoolDatabase
from smtpeter.runtime import PostgreSQL

QUEUED, HELD, OTHER = "0000000000000000000A", "0000000000000000000B", "0000000000000000000C"


def _message(qid: str, hold: bool = False) -> QueuedMessage:
    envelope = Envelope("news@shop.test", (Recipient("a@x.test"),))
    return QueuedMessage(qid, envelope, Options(login="app", hold=hold), 1000.0, b"Subject: x\r\n")


def _spool(root, *messages: QueuedMessage) -> None:
    spool = SpoolDatabase(root)
    spool.open()
    assert spool.apply([("store", m) for m in messages]) == [None] * len(messages)
    spool.close()


def _warnings(config: Config) -> list[str]:
    """Start C{config}'s data directory; the warnings it logged, formatted."""
    events: list[dict] = []
    globalLogPublisher.addObserver(events.append)
    try:
        prepareDataDirectory(config)
    finally:
        globalLogPublisher.removeObserver(events.append)
    return [
        formatEvent(e)
        for e in events
        if e.get("log_level") is not None
        and e["log_level"].name == "warn"
        and e.get("log_namespace") == "smtpeter.process._datadir"
        and "self-signed" not in e.get("log_format", "")
    ]


def test_spools_holding_mail_are_left_as_they_were_and_named(tmp_path, postgresDatabase):
    data = tmp_path / "data"
    _spool(data / "spool", _message(QUEUED), _message(HELD, hold=True))
    _spool(data / "spool-3", _message(OTHER))
    before = {p: p.read_bytes() for p in data.glob("spool*/spool.db")}
    config = Config(
        data=data, hostname="gw.test", workers=1, postgresql=PostgreSQL(postgresDatabase)
    )

    warnings = _warnings(config)

    # Worker 3's spool is not moved into worker 1's (as it is on SQLite with
    # fewer workers), and neither database is written.
    assert {p: p.read_bytes() for p in data.glob("spool*/spool.db")} == before
    assert len(warnings) == 1, warnings
    assert f"the SQLite spools in {data} still hold queued mail" in warnings[0]
    assert "(spool: 2 message(s); spool-3: 1 message(s))" in warnings[0]
    assert "smtpeter db copy" in warnings[0] and "docs/cluster.md" in warnings[0]


def test_a_fresh_node_makes_no_spool_database_and_warns_of_nothing(tmp_path, postgresDatabase):
    data = tmp_path / "data"
    config = Config(
        data=data, hostname="gw.test", workers=2, postgresql=PostgreSQL(postgresDatabase)
    )
    assert _warnings(config) == []
    assert list(data.glob("spool*/spool.db")) == []
    # Spools emptied (their mail delivered before the move) are no reason to warn.
    _spool(data / "spool")
    assert _warnings(config) == []
    assert list(data.glob("spool*/spool.db")) == [data / "spool" / "spool.db"]


def test_on_sqlite_fewer_workers_still_adopt_the_others_spools(tmp_path):
    """The contrast: one machine's worker 1 takes over the spool of a worker no longer run."""
    data = tmp_path / "data"
    _spool(data / "spool-3", _message(OTHER))
    prepareDataDirectory(Config(data=data, hostname="gw.test", workers=1))
    first = SpoolDatabase.reading(data / "spool")
    assert first is not None
    assert first.queuedCount() == 1
    first.close()


def test_a_spool_that_cannot_be_read_is_named_and_the_start_goes_on(tmp_path, postgresDatabase):
    data = tmp_path / "data"
    (data / "spool-2").mkdir(parents=True)
    (data / "spool-2" / "spool.db").write_bytes(b"\x01" * 4096)
    (data / "spool" / "queue").mkdir(parents=True)  # files of an earlier release
    config = Config(
        data=data, hostname="gw.test", workers=2, postgresql=PostgreSQL(postgresDatabase)
    )
    warnings = _warnings(config)
    assert len(warnings) == 1, warnings
    assert "(spool: queue files of an earlier smtpeter; spool-2: cannot be read (" in warnings[0]
    assert (data / "spool-2" / "spool.db").read_bytes() == b"\x01" * 4096
    assert not (data / "spool" / "spool.db").exists()
