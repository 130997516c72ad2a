"""
C{smtpeter queue list} (smtpeter.admin.commands._queue), text and JSON, on
both engines: on SQLite each message is in one worker's spool; on
PostgreSQL the queue is shared, and a message is in the hands of the worker
whose claim on it holds, or of none. Held mail is marked on both.
"""

from __future__ import annotations

import json

import psycopg

from smtpeter.cli import main
from smtpeter.message import Envelope, Options, QueuedMessage, Recipient
from smtpeter.queue import SharedQueueDatabase, SpoolDatabase

QUEUED, HELD, LAPSED = "0000000000000000000A", "0000000000000000000B", "0000000000000000000C"


def _message(qid: str, hold: bool = False) -> QueuedMessage:
    envelope = Envelope("news@shop.test", (Recipient("a@x.test"),))
    return QueuedMessage(qid, envelope, Options(login="app", hold=hold), 1000.0, b"Subject: x\r\n")


def _store(queue, *messages: QueuedMessage) -> None:
    assert queue.apply([("store", m) for m in messages]) == [None] * len(messages)


def _listed(capsys, *argv: str) -> tuple[dict[str, str], str, list[dict]]:
    """The text's line of each message (by id), its last line, and the JSON entries."""
    assert main([*argv, "queue", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    byId = {line.split("  ", 1)[0]: line for line in lines if not line.startswith(" ")}
    assert main([*argv, "queue", "list", "--json"]) == 0
    return byId, lines[-1], json.loads(capsys.readouterr().out)


def test_on_sqlite_each_message_names_its_workers_spool(tmp_path, capsys):
    data = tmp_path / "data"
    assert main(["--data", str(data), "init"]) == 0
    for root, message in (
        (data / "spool", _message(QUEUED)),
        (data / "spool-2", _message(HELD, True)),
    ):
        spool = SpoolDatabase(root)
        spool.open()
        _store(spool, message)
        spool.close()
    capsys.readouterr()

    lines, last, entries = _listed(capsys, "--data", str(data))

    assert lines[QUEUED].endswith("  worker 1")
    assert lines[HELD].endswith("  held  worker 2")
    assert last == "2 message(s) in the queue (1 held)"
    assert [(e["qid"], e["worker"], e["held"]) for e in entries] == [
        (QUEUED, 1, False),
        (HELD, 2, True),
    ]


def test_on_postgresql_each_message_names_the_claim_that_holds_it(
    tmp_path, postgresDatabase, capsys
):
    data = tmp_path / "data"
    cli = ["--data", str(data), "--database", postgresDatabase]
    assert main([*cli, "init"]) == 0
    capsys.readouterr()
    nodeA = SharedQueueDatabase(lambda: psycopg.connect(postgresDatabase), "a/1", "a", 60.0)
    nodeB = SharedQueueDatabase(lambda: psycopg.connect(postgresDatabase), "b/2", "b", 60.0)
    try:
        # Stored mail is in hand of the worker that took it; held mail is nobody's.
        _store(nodeA, _message(QUEUED), _message(HELD, hold=True))
        _store(nodeB, _message(LAPSED))
        # Node b died: its lease ran out, and no other node took the message over yet.
        with psycopg.connect(postgresDatabase, autocommit=True) as db:
            db.execute(
                "UPDATE queue_messages SET lease_until = lease_until - 120 WHERE qid = %s",
                (LAPSED,),
            )

        lines, last, entries = _listed(capsys, *cli)
    finally:
        nodeA.close()
        nodeB.close()

    assert lines[QUEUED].endswith(" bytes  claimed by a/1")
    assert lines[HELD].endswith(" bytes  held")
    assert lines[LAPSED].endswith(" bytes  not claimed")
    assert last == "3 message(s) in the queue (1 held)"
    assert [(e["qid"], e["held"], e["owner"], e["node"], e["worker"]) for e in entries] == [
        (QUEUED, False, "a/1", "a", 1),
        (HELD, True, None, None, None),
        (LAPSED, False, None, None, None),
    ]
