"""
Schema step 020 on PostgreSQL: a finished message's body stays in
C{queue_bodies}, marked finished, and the content kept in C{queue_sent}
before it moves there, readable as before; the previous release's nodes,
which run on through a rolling upgrade, still finish their messages.
"""

import psycopg
import pytest

from smtpeter import cli
from smtpeter.admin._sharedqueue import sharedEntry, sharedSent
from smtpeter.message import Envelope, Options, QueuedMessage, Recipient
from smtpeter.queue import SharedQueueDatabase
from smtpeter.queue._spool import _metadata
from smtpeter.runtime import PostgreSQL
from smtpeter.store import CURRENT, _engines, _postgres, openDatabase, upgrade
from smtpeter.store._migrate import steps


def message(qid: str) -> QueuedMessage:
    envelope = Envelope("s@example.com", (Recipient("r@example.com"),))
    return QueuedMessage(qid, envelope, Options(), 1.0, b"queued", False)


KEPT, QUEUED = "0000000000000000000K", "0000000000000000000Q"


def atVersion19(uri: str):
    """A database at schema version 19, with a queued message and a kept one."""
    db = _postgres.connect(uri)
    with _engines.transaction(db):
        db.execute(
            "CREATE TABLE schema_version"
            " (version INTEGER PRIMARY KEY, applied DOUBLE PRECISION NOT NULL)"
        )
        for step in steps(_postgres.DIALECT)[:19]:
            for statement in step.statements():
                db.execute(statement)
            db.execute("INSERT INTO schema_version VALUES (?, 0)", (step.version,))
        db.execute(
            "INSERT INTO queue_messages (qid, meta, node, received, due, owner, lease_until,"
            " claim) VALUES (?, ?, 'a', 1.0, 1.0, 'a/1', 9e9, 1)",
            (QUEUED, _metadata(message(QUEUED))[:-1].decode()),
        )
        db.execute("INSERT INTO queue_bodies (qid, content) VALUES (?, ?)", (QUEUED, b"queued"))
        db.execute("INSERT INTO queue_recipients (qid, rcpt, state) VALUES (?, 0, '{}')", (QUEUED,))
        db.execute(
            "INSERT INTO queue_sent (qid, finished, content) VALUES (?, 1000.0, ?)",
            (KEPT, b"kept"),
        )
    return db


def _upgradeByCommand(uri, db):
    assert cli.main(["--database", uri, "db", "upgrade"]) == 0


def _upgradeAtStart(uri, db):
    openDatabase(PostgreSQL(uri)).close()


@pytest.mark.parametrize("how", [_upgradeByCommand, _upgradeAtStart])
def test_an_upgrade_from_19_keeps_the_kept_content_readable(postgresDatabase, how):
    db = atVersion19(postgresDatabase)
    how(postgresDatabase, db)
    assert upgrade(db) == (CURRENT, CURRENT)
    assert sharedSent(db, KEPT) == b"kept"
    assert sharedEntry(db, KEPT, True) is None
    assert sharedSent(db, QUEUED) is None
    assert sharedEntry(db, QUEUED, True)[0] == b"queued"
    # No more cascades: a finished message's rows are deleted by the finish.
    assert db.execute(
        "SELECT count(*) FROM pg_constraint WHERE contype = 'f'"
        " AND conrelid IN ('queue_bodies'::regclass, 'queue_recipients'::regclass)"
    ).fetchone() == (0,)
    a = SharedQueueDatabase(lambda: psycopg.connect(postgresDatabase), "a/1", "a", 60.0, keepSent=1)
    a.claims[QUEUED] = 1  # as the previous release's node stored it
    assert a.readContent(QUEUED) == b"queued"
    assert a.apply([("finish", QUEUED, 2000.0)]) == [None]
    assert sharedSent(db, QUEUED) == b"queued"
    assert a.purgeSent(1001.0) == 1
    assert sharedSent(db, KEPT) is None
    assert sharedSent(db, QUEUED) == b"queued"
    db.close()


#: How the previous release finished a message, keeping its content (its
#: smtpeter/queue/_sharedwrites.py, with the cascades of queue_messages).
PREVIOUS_FINISH = (
    "WITH done AS (DELETE FROM queue_messages WHERE qid = ANY(%b::text[]) AND owner = %s"
    " AND claim = (%b::bigint[])[array_position(%b::text[], qid)] RETURNING qid), kept AS ("
    " INSERT INTO queue_sent (qid, finished, content)"
    " SELECT b.qid, (%b::float8[])[array_position(%b::text[], b.qid)], b.content"
    " FROM queue_bodies b WHERE b.qid = ANY(%b::text[])"
    " AND b.qid IN (SELECT qid FROM done)"
    " ON CONFLICT (qid) DO NOTHING)"
    " SELECT qid FROM done"
)


def test_a_node_of_the_previous_release_still_finishes_and_keeps(postgresDatabase):
    db = atVersion19(postgresDatabase)
    upgrade(db)
    qids = [QUEUED]
    with psycopg.connect(postgresDatabase) as old:
        done = old.execute(
            PREVIOUS_FINISH, (qids, "a/1", [1], qids, [3000.0], qids, qids)
        ).fetchall()
    assert done == [(QUEUED,)]
    assert sharedSent(db, QUEUED) == b"queued"
    assert db.execute("SELECT finished FROM queue_bodies WHERE qid = ?", (QUEUED,)).fetchone() == (
        3000.0,
    )
    for table in ("queue_messages", "queue_recipients", "queue_sent"):
        assert db.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
    # And its purge, of a table left empty, forgets nothing that is kept.
    with psycopg.connect(postgresDatabase) as old:
        old.execute(
            "DELETE FROM queue_sent WHERE qid IN"
            " (SELECT qid FROM queue_sent WHERE finished < %s LIMIT %s)",
            (9e9, 500),
        )
    assert sharedSent(db, QUEUED) == b"queued"
    db.close()
