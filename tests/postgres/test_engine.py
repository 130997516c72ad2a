"""
The PostgreSQL engine (L{smtpeter.store._postgres}): the stores' SQL as
PostgreSQL takes it, the shared schema steps, its errors, its locks, and a
connection that comes back after PostgreSQL went away.
"""

import psycopg
import pytest

from smtpeter.store import CURRENT, SchemaTooNew, _engine, _engines, _postgres, upgrade, version
from smtpeter.store._migrate import steps

from ..conftest import upgradeAtOnce


def test_marks_become_psycopg_marks_outside_literals_only():
    assert _postgres.translate("SELECT ? WHERE a = ?") == "SELECT %s WHERE a = %s"
    assert _postgres.translate("SELECT '?', ? LIKE '%x'") == "SELECT '?', %s LIKE '%%x'"
    assert _postgres.translate("SELECT 'it''s ?', ?") == "SELECT 'it''s ?', %s"


def test_the_steps_are_the_same_in_number_for_both_engines():
    assert [s.version for s in steps(_postgres.DIALECT)] == list(range(1, CURRENT + 1))
    assert steps(_postgres.DIALECT)[0].sql != steps(_engine.DIALECT)[0].sql
    assert steps(_postgres.DIALECT)[1].sql == steps(_engine.DIALECT)[1].sql


def test_a_new_database_gets_the_schema_of_sqlite(postgresDatabase, tmp_path):
    db = _postgres.connect(postgresDatabase)
    assert _engines.of(db) is _postgres
    assert version(db) == 0
    assert upgrade(db) == (0, CURRENT)
    assert version(db) == CURRENT
    assert upgrade(db) == (CURRENT, CURRENT)

    lite = _engine.connect(tmp_path / "db.sqlite")
    upgrade(lite)
    assert _engines.of(lite) is _engine
    # PostgreSQL's alone: the queue every node shares, the nodes' names, the
    # cluster's duties (one machine keeps a spool per worker instead).
    cluster = {"queue_messages", "queue_bodies", "queue_recipients", "queue_sent", "nodes"}
    cluster.add("cluster_duties")
    assert _postgres.tables(db) == _engine.tables(lite) | cluster
    # event_tags is kept per day there, by the time of each tag's event.
    extra = {"event_tags": {"time"}}
    for table in _engine.tables(lite):
        expected = _engine.columns(lite, table) | extra.get(table, set())
        assert _postgres.columns(db, table) == expected, table


def test_nodes_upgrading_at_once_take_turns(postgresDatabase):
    results, errors = upgradeAtOnce(postgresDatabase, 3)
    assert errors == []
    assert sorted(results) == [(0, CURRENT)] + [(CURRENT, CURRENT)] * 2


def test_code_older_than_the_schema_refuses_in_one_line(postgresDatabase):
    db = _postgres.connect(postgresDatabase)
    upgrade(db)
    db.execute("INSERT INTO schema_version (version, applied) VALUES (?, 0)", (CURRENT + 1,))
    with pytest.raises(SchemaTooNew) as refused:
        upgrade(db)
    assert "\n" not in str(refused.value)
    assert f"schema version {CURRENT + 1}" in str(refused.value)
    assert not db.in_transaction


def test_errors_are_classified_and_writes_take_turns(postgresDatabase):
    db = _postgres.connect(postgresDatabase)
    upgrade(db)
    db.execute("INSERT INTO logins (name, password_hash, created) VALUES (?, ?, ?)", ("a", "h", 1))
    with pytest.raises(_engines.Conflict) as taken:
        db.execute("INSERT INTO logins (name, password_hash, created) VALUES (?, 'h', 1)", ("a",))
    assert _engines.classify(taken.value) == _engines.CONFLICT

    other = _postgres.connect(postgresDatabase)
    _engines.begin(db)
    other.execute("SET lock_timeout = '100ms'")
    with pytest.raises(_engines.DatabaseError) as waited:
        _engines.begin(other)
    assert _engines.classify(waited.value) == _engines.BUSY
    other.execute("ROLLBACK")
    db.execute("ROLLBACK")
    _engines.begin(other)  # the lock is free again
    other.execute("COMMIT")
    assert _engines.classify(ValueError("x")) == _engines.OTHER


def test_flags_are_integers_and_json_reads_as_in_sqlite(postgresDatabase):
    db = _postgres.connect(postgresDatabase)
    upgrade(db)
    db.execute(
        "INSERT INTO logins (name, password_hash, created, hold, features) VALUES (?, ?, ?, ?, ?)",
        ("a", "h", 1.5, True, '{"hold": true, "n": "x"}'),
    )
    row = db.execute(
        f"SELECT hold, created, {_postgres.jsonFlag('features', 'hold')},"
        f" {_postgres.jsonField('features', 'n')} FROM logins"
    ).fetchone()
    assert row == (1, 1.5, 1, "x")


def test_a_broken_connection_is_made_again(postgresDatabase):
    db = _postgres.connect(postgresDatabase)

    def cut():
        (pid,) = db.execute("SELECT pg_backend_pid()").fetchone()
        with psycopg.connect(postgresDatabase, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    # A read that finds it gone is read again on a new one; so is a BEGIN.
    cut()
    assert db.execute("SELECT 1").fetchone() == (1,)
    cut()
    _engines.begin(db)
    assert db.in_transaction
    db.execute("COMMIT")
    # A write is not (it may have been done): it fails, and the next one works.
    cut()
    with pytest.raises(_engines.DatabaseError) as lost:
        db.execute("SET application_name = 'again'")
    assert _engines.classify(lost.value) == _engines.BUSY
    db.execute("SET application_name = 'again'")
    # Nor the rest of a transaction: its statements fail until it ends.
    _engines.begin(db)
    cut_pid = db.execute("SELECT pg_backend_pid()").fetchone()[0]
    with psycopg.connect(postgresDatabase, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (cut_pid,))
    for _ in range(2):
        with pytest.raises(_engines.DatabaseError):
            db.execute("SELECT 1")
    assert db.in_transaction
    db.execute("ROLLBACK")
    assert not db.in_transaction
    assert db.execute("SELECT 1").fetchone() == (1,)
