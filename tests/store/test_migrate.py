"""
The shared database's one schema: numbered steps, C{schema_version}, and the
upgrade of databases made before versions (by the previous release, whose
stores made their own tables and added the columns they missed).
"""

import re
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from smtpeter import cli
from smtpeter.config import Config
from smtpeter.process import createDatabase
from smtpeter.store import (
    CURRENT,
    LoginStore,
    SchemaTooNew,
    connect,
    openDatabase,
    upgrade,
    version,
)
from smtpeter.store._admins import AdminStore
from smtpeter.store._apitokens import TokenStore
from smtpeter.store._dashboardsessions import DashboardSessionStore
from smtpeter.store._domains import DomainStore
from smtpeter.store._events import EventStore
from smtpeter.store._migrate import steps
from smtpeter.store._queuerequests import QueueRequestStore
from smtpeter.store._stats import StatsStore
from smtpeter.store._suppressions import SuppressionStore
from smtpeter.store._throttle import ThrottleStore
from smtpeter.store._webhooks import WebhookStore

#: A database made by smtpeter at cada2fc, the release before schema versions
#: (tests/fixtures/databases/make_previous.py, run with that commit's code).
PREVIOUS = Path(__file__).parent.parent / "fixtures" / "databases" / "previous.sqlite"


def schema(db) -> list[tuple]:
    """The database's tables and indexes, their SQL compared without layout."""

    def normal(sql):
        if sql is None:
            return None
        sql = re.sub(r"\s+", " ", sql.replace("IF NOT EXISTS ", ""))
        return re.sub(r"\s*([(),])\s*", r"\1", sql).strip()

    rows = db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
    return [(kind, name, table, normal(sql)) for kind, name, table, sql in rows]


def contents(db) -> dict:
    tables = [
        name
        for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " AND name != 'schema_version'"
        )
    ]
    return {t: sorted(map(repr, db.execute(f"SELECT * FROM {t}"))) for t in tables}


@pytest.fixture
def previous(tmp_path):
    path = tmp_path / "smtpeter.sqlite"
    shutil.copy(PREVIOUS, path)
    return path


def test_steps_are_numbered_from_one_and_end_at_current():
    assert [s.version for s in steps()] == list(range(1, CURRENT + 1))
    assert CURRENT >= 9
    assert all(s.statements() for s in steps())


def test_a_fresh_database_is_made_at_the_current_version(tmp_path):
    db = connect(tmp_path / "db.sqlite")
    assert version(db) == 0
    assert upgrade(db) == (0, CURRENT)
    assert version(db) == CURRENT
    assert upgrade(db) == (CURRENT, CURRENT)  # again: nothing to do


def test_the_previous_release_s_database_upgrades_in_place(previous, tmp_path):
    db = connect(previous)
    before = contents(db)
    assert before["logins"] and before["messages"] and before["webhook_deliveries"]
    assert version(db) == 0
    assert upgrade(db) == (0, CURRENT)
    after = contents(db)
    # Step 11 gave the logins their limits, none (any sender), and an empty usage table.
    assert after.pop("login_usage") == []
    assert after["logins"] == [r[:-1] + ", None, None, 'refuse', '[]')" for r in before["logins"]]
    after["logins"] = before["logins"]
    # Step 18 gave the suppressions a scope: the whole gateway ('').
    assert after["suppressions"] == [r[:-1] + ", '')" for r in before["suppressions"]]
    after["suppressions"] = before["suppressions"]

    # Step 17 gave the tokens a login, none (send tokens came later).
    assert after["api_tokens"] == [r[:-1] + ", None)" for r in before["api_tokens"]]
    after["api_tokens"] = before["api_tokens"]
    assert {t: after[t] for t in before} == before  # every row kept, unchanged
    assert all(not after[t] for t in after.keys() - before.keys())  # later tables: empty
    fresh = openDatabase(tmp_path / "fresh.sqlite")
    assert schema(db) == schema(fresh)
    # ... and the stores read it as they read their own.
    login = LoginStore(db).get("shop")
    assert login.hold and login.features == frozenset({"trackclicks"})
    assert {t.name: t.scope for t in TokenStore(db).list()} == {
        "reader": "read",
        "writer": "admin",
    }
    assert EventStore(db).message("ABCDEF0123").subject == "hi"


def test_a_database_from_before_the_added_columns_gets_them(tmp_path):
    """The shape of step 1 only, unversioned, with rows: each later step runs."""
    db = connect(tmp_path / "old.sqlite")
    for statement in steps()[0].statements():
        db.execute(statement)
    db.execute("INSERT INTO logins (name, password_hash, created) VALUES ('app', 'x', 1.0)")
    db.execute("INSERT INTO api_tokens (name, hash, created) VALUES ('t', 'h', 1.0)")
    db.execute(
        "INSERT INTO webhook_deliveries (webhook, event, type, body, created, next_attempt)"
        " VALUES (1, 7, 'click', '{}', 1, 1)"
    )
    assert upgrade(db) == (0, CURRENT)
    assert schema(db) == schema(openDatabase(tmp_path / "fresh.sqlite"))
    assert db.execute("SELECT public_url, hold FROM logins").fetchall() == [(None, 0)]
    assert db.execute("SELECT scope FROM api_tokens").fetchall() == [("read",)]
    [(uid,)] = db.execute("SELECT uid FROM webhook_deliveries").fetchall()
    assert len(uid) == 32


def test_a_database_missing_whole_tables_gets_them(tmp_path):
    """Stores made their tables when first used: an old database may lack some."""
    db = connect(tmp_path / "old.sqlite")
    db.execute(
        "CREATE TABLE logins (name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, enabled"
        " INTEGER NOT NULL DEFAULT 1, features TEXT NOT NULL DEFAULT '[]', created REAL NOT"
        " NULL, last_used REAL, public_url TEXT, hold INTEGER NOT NULL DEFAULT 0)"
    )
    upgrade(db)
    assert {name for _, name, _, _ in schema(db)} == {
        name for _, name, _, _ in schema(openDatabase(tmp_path / "fresh.sqlite"))
    }


def test_a_database_from_a_later_release_is_refused(tmp_path):
    db = openDatabase(tmp_path / "db.sqlite")
    db.execute("INSERT INTO schema_version VALUES (?, 0)", (CURRENT + 1,))
    with pytest.raises(SchemaTooNew, match=f"version {CURRENT + 1}"):
        upgrade(db)
    assert version(db) == CURRENT + 1


def test_making_a_store_makes_no_table(tmp_path):
    db = connect(tmp_path / "db.sqlite")
    for store in (
        LoginStore,
        TokenStore,
        DomainStore,
        EventStore,
        WebhookStore,
        ThrottleStore,
        SuppressionStore,
        QueueRequestStore,
        AdminStore,
        DashboardSessionStore,
        StatsStore,
    ):
        store(db)
    assert db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone() == (0,)


def test_two_upgrades_at_once_take_turns(tmp_path):
    path = tmp_path / "db.sqlite"
    first, second = connect(path), connect(path)
    second.execute("BEGIN IMMEDIATE")  # another process, upgrading
    for statement in steps()[0].statements():
        second.execute(statement)
    second.execute("COMMIT")
    assert upgrade(first) == (0, CURRENT)
    assert upgrade(second) == (CURRENT, CURRENT)


def test_the_gateway_s_start_upgrades_the_previous_data_directory(previous):
    config = Config(data=previous.parent, hostname="localhost")
    createDatabase(config)
    db = sqlite3.connect(previous)
    assert db.execute("SELECT MAX(version) FROM schema_version").fetchone() == (CURRENT,)
    assert db.execute("SELECT hold FROM logins WHERE name = 'shop'").fetchone() == (1,)


def test_db_upgrade_prints_the_versions(previous, capsys):
    data = str(previous.parent)
    assert cli.main(["--data", data, "db", "upgrade"]) == 0
    assert capsys.readouterr().out == (
        f"{previous}: upgraded the schema from version 0 to {CURRENT}\n"
    )
    assert cli.main(["--data", data, "db", "upgrade"]) == 0
    assert f"schema version {CURRENT}, the current one" in capsys.readouterr().out


def test_db_upgrade_of_a_later_release_s_database_says_so_in_one_line(previous, capsys):
    upgrade(connect(previous))
    sqlite3.connect(previous, isolation_level=None).execute(
        "INSERT INTO schema_version VALUES (?, ?)", (CURRENT + 1, time.time())
    )
    assert cli.main(["--data", str(previous.parent), "db", "upgrade"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"schema version {CURRENT + 1}" in err


@pytest.mark.parametrize(
    "status, index",
    [
        ("queued", "events_outcome"),
        ("held", "events_outcome"),
        ("delivered", "events_outcome"),
        ("deferred", "events_outcome"),
        ("bounced", "events_type_time"),
        ("failed", "events_type_time"),
    ],
)
def test_status_searches_find_their_index_without_being_told(tmp_path, status, index):
    """No INDEXED BY: the schema's indexes are what the planner takes by itself."""
    from smtpeter.store import _engine
    from smtpeter.store._events import _statusWhere

    where = _statusWhere(_engine)[status]
    db = openDatabase(tmp_path / "db.sqlite")
    plan = " | ".join(
        row[3]
        for row in db.execute(
            "EXPLAIN QUERY PLAN SELECT m.qid FROM messages m"
            f" WHERE {where} ORDER BY m.received DESC LIMIT 50"
        )
    )
    assert "INDEXED BY" not in where
    assert f"SEARCH x USING INDEX {index}" in plan or (
        f"SEARCH x USING COVERING INDEX {index}" in plan
    ), plan
