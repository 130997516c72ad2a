"""
The spool's one schema: numbered steps in smtpeter/queue/schema/, a
schema_version, and spools from before versions opened as they are.
"""

from __future__ import annotations

import sqlite3

import pytest

from smtpeter.queue import SpoolDatabase, _spoolschema

#: The spool's schema as the release before versions wrote it (kept here, as it was).
PREVIOUS = f"""
CREATE TABLE IF NOT EXISTS message (
    qid TEXT PRIMARY KEY,
    done INTEGER NOT NULL DEFAULT {_spoolschema.QUEUED}, -- when it finished (ms), or QUEUED
    meta TEXT NOT NULL,
    content BLOB -- NULL: in large/<qid>
);
CREATE INDEX IF NOT EXISTS queued ON message (qid) WHERE done = {_spoolschema.QUEUED};
CREATE TABLE IF NOT EXISTS state (
    qid TEXT NOT NULL,
    rcpt INTEGER NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (qid, rcpt)
) WITHOUT ROWID;
"""


def shape(path):
    db = sqlite3.connect(path)
    rows = db.execute(
        "SELECT type, name, tbl_name FROM sqlite_master WHERE name != 'schema_version'"
        " ORDER BY name"
    ).fetchall()
    columns = {
        table: db.execute(f"PRAGMA table_info({table})").fetchall()
        for table in ("message", "state")
    }
    index = db.execute("SELECT sql FROM sqlite_master WHERE name = 'queued'").fetchone()
    db.close()
    return rows, columns, index


def version(path):
    return sqlite3.connect(path).execute("SELECT MAX(version) FROM schema_version").fetchone()[0]


def test_a_new_spool_is_made_at_the_current_version(tmp_path):
    spool = SpoolDatabase(tmp_path / "spool")
    spool.open()
    spool.close()
    assert version(spool.path) == _spoolschema.SPOOL_VERSION >= 1


def test_a_spool_from_before_versions_opens_with_its_messages(tmp_path):
    (tmp_path / "old").mkdir()
    path = tmp_path / "old" / _spoolschema.SPOOL_FILE
    db = sqlite3.connect(path)
    db.executescript(PREVIOUS)
    db.execute("INSERT INTO message (qid, meta, content) VALUES ('Q1', '{}', x'00')")
    db.execute("INSERT INTO state VALUES ('Q1', 0, 'pending')")
    db.commit()
    db.close()
    spool = SpoolDatabase(tmp_path / "old")
    spool.open()
    assert spool.db.execute("SELECT qid, done FROM message").fetchall() == [
        ("Q1", _spoolschema.QUEUED)
    ]
    spool.close()
    assert version(path) == _spoolschema.SPOOL_VERSION
    fresh = SpoolDatabase(tmp_path / "new")
    fresh.open()
    fresh.close()
    assert shape(path) == shape(fresh.path)


def test_a_spool_of_a_later_release_is_refused(tmp_path):
    spool = SpoolDatabase(tmp_path / "spool")
    spool.open()
    spool.db.execute("INSERT INTO schema_version VALUES (?, 0)", (_spoolschema.SPOOL_VERSION + 1,))
    spool.close()
    with pytest.raises(sqlite3.DatabaseError, match="schema version"):
        SpoolDatabase(tmp_path / "spool").open()
