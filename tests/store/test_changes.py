"""Change marks: what lets a process keep rows in memory and still see every change."""

from __future__ import annotations

from twisted.internet.task import Clock

from smtpeter.store import SQLiteStore, connect, openDatabase
from smtpeter.store._apitokens import TokenStore
from smtpeter.store._changes import MISSING, ChangeMarks, Remembered
from smtpeter.store._logins import LoginStore


def test_a_mark_written_by_one_process_is_read_by_every_other(tmp_path):
    database = tmp_path / "db.sqlite"
    one, other = ChangeMarks(database), ChangeMarks(database)
    assert one.path == tmp_path / "db.sqlite-changes"
    before = other.mark("logins"), other.mark("suppressions")
    one.changed("logins")
    assert other.mark("logins") != before[0]
    assert other.mark("suppressions") == before[1]  # one mark per table


def test_a_change_outside_a_transaction_is_published_at_once(tmp_path):
    marks = ChangeMarks(tmp_path / "db.sqlite")
    before = marks.mark("logins")
    LoginStore(openDatabase(tmp_path / "db.sqlite")).create("app", [])
    assert marks.mark("logins") != before


def test_a_change_inside_a_transaction_is_published_after_it(tmp_path):
    marks = ChangeMarks(tmp_path / "db.sqlite")
    db = openDatabase(tmp_path / "db.sqlite")
    db.execute("BEGIN IMMEDIATE")
    before = marks.mark("logins")
    LoginStore(db).create("app", [])
    assert marks.mark("logins") == before  # not committed: a reader must not keep it yet
    db.execute("COMMIT")
    db.publish()
    assert marks.mark("logins") != before


def test_kept_rows_go_when_the_mark_changes(tmp_path):
    marks = ChangeMarks(tmp_path / "db.sqlite")
    kept = Remembered(marks, "logins")
    mark, row = kept.lookup("app")
    assert row is MISSING
    kept.keep(mark, "app", "row")
    assert kept.lookup("app") == (mark, "row")
    marks.changed("logins")
    assert kept.lookup("app")[1] is MISSING


def test_a_row_read_while_the_table_changed_is_not_kept(tmp_path):
    marks = ChangeMarks(tmp_path / "db.sqlite")
    kept = Remembered(marks, "suppressions")
    mark, _ = kept.lookup("a@x.test")
    marks.changed("suppressions")  # committed elsewhere while the read ran
    kept.keep(mark, "a@x.test", None)
    assert kept.lookup("a@x.test")[1] is MISSING


def test_at_most_limit_rows_are_kept_the_oldest_go_first(tmp_path):
    kept = Remembered(ChangeMarks(tmp_path / "db.sqlite"), "auth_bans", limit=2)
    for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        mark, _ = kept.lookup(address)
        kept.keep(mark, address, None)
    assert [kept.get(a) is MISSING for a in ("192.0.2.1", "192.0.2.2", "192.0.2.3")] == [
        True,
        False,
        False,
    ]


def test_making_or_deleting_an_api_token_changes_the_tokens_mark(tmp_path):
    gateway = SQLiteStore(tmp_path / "db.sqlite", Clock())
    assert gateway.tokensMark() == b""  # not started: no marks yet
    gateway.start()
    tokens = TokenStore(connect(tmp_path / "db.sqlite"))  # as the CLI has it
    before = gateway.tokensMark()
    tokens.create("reports")
    made = gateway.tokensMark()
    assert made != before
    tokens.list()
    assert gateway.tokensMark() == made  # reading changes nothing
    tokens.delete("reports")
    assert gateway.tokensMark() != made
    gateway.stop()
