"""The SQLite engine: what only SQLite says its way, in one module."""

import sqlite3

import pytest

from smtpeter.store import _engine


def test_errors_are_classified(tmp_path):
    db = _engine.connect(tmp_path / "db.sqlite")
    db.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")
    db.execute("INSERT INTO t VALUES ('a')")
    with pytest.raises(_engine.DatabaseError) as taken:
        db.execute("INSERT INTO t VALUES ('a')")
    assert _engine.classify(taken.value) == _engine.CONFLICT

    other = sqlite3.connect(tmp_path / "db.sqlite", timeout=0, isolation_level=None)
    _engine.begin(db)
    with pytest.raises(_engine.DatabaseError) as locked:
        _engine.begin(other)
    assert _engine.classify(locked.value) == _engine.BUSY
    db.execute("ROLLBACK")

    damaged = tmp_path / "damaged.sqlite"
    damaged.write_bytes(b"not a database, not at all" * 100)
    with pytest.raises(_engine.DatabaseError) as bad:
        sqlite3.connect(damaged).execute("SELECT * FROM sqlite_master")
    assert _engine.classify(bad.value) == _engine.DAMAGED
    assert _engine.classify(ValueError("x")) == _engine.OTHER


def test_json_fields_and_the_shape_of_an_old_database(tmp_path):
    db = _engine.connect(tmp_path / "db.sqlite")
    db.execute("CREATE TABLE t (j TEXT)")
    db.execute("""INSERT INTO t VALUES ('{"hold": true, "n": 3}')""")
    assert db.execute(f"SELECT {_engine.jsonField('j', 'n')} FROM t").fetchone() == (3,)
    assert _engine.tables(db) == {"t"}
    assert _engine.columns(db, "t") == {"j"}
