"""
Change marks on PostgreSQL (L{smtpeter.store._postgreschanges}): what one
node changes, every node's listener hears, and a listener that lost its
connection keeps nothing until it listens again.
"""

import psycopg

from smtpeter.store import _postgres, upgrade
from smtpeter.store._changes import Remembered, changed
from smtpeter.store._postgreschanges import ChangeListener

from ..conftest import eventually


def test_a_change_anywhere_gives_every_listener_a_new_mark(postgresDatabase):
    db = _postgres.connect(postgresDatabase)
    upgrade(db)
    here = ChangeListener(postgresDatabase)
    # Another node: the same database through another URI (the same, spelt otherwise).
    there = ChangeListener(postgresDatabase + "&application_name=there")
    try:
        assert here.listening.wait(10) and there.listening.wait(10)
        logins, tokens = here.mark("logins"), here.mark("api_tokens")
        elsewhere = there.mark("logins")
        assert here.mark("logins") == logins  # kept while nothing changes
        changed(db, "logins")  # outside a transaction: notified at once
        assert here.mark("logins") != logins  # this process: without waiting
        eventually(lambda: there.mark("logins") != elsewhere, 2, "the other node's new mark")
        assert here.mark("api_tokens") == tokens

        # In a transaction, the note waits for the transaction's end.
        tokens = there.mark("api_tokens")
        db.execute("BEGIN")
        changed(db, "api_tokens")
        db.execute("COMMIT")
        assert there.mark("api_tokens") == tokens
        db.publish()
        eventually(lambda: there.mark("api_tokens") != tokens, 2, "the change after the commit")
    finally:
        here.close()
        there.close()
        db.close()


def test_rows_are_kept_only_while_listening(postgresDatabase):
    listener = ChangeListener(postgresDatabase)
    try:
        assert listener.listening.wait(10)
        remembered = Remembered(listener, "logins")
        mark, _ = remembered.lookup("app")
        remembered.keep(mark, "app", "row")
        assert remembered.lookup("app")[1] == "row"
        with psycopg.connect(postgresDatabase, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE pid != pg_backend_pid() AND query LIKE 'LISTEN%'"
            )
        # Cut off, it keeps nothing; listening again, it has forgotten the row.
        eventually(lambda: remembered.lookup("app")[1] != "row", 5, "the row forgotten")
        assert listener.listening.wait(10)
        mark, row = remembered.lookup("app")
        assert row != "row"
        remembered.keep(mark, "app", "again")
        assert remembered.lookup("app")[1] == "again"
    finally:
        listener.close()
