"""
PostgreSQL going away and coming back: the store's writes fail (and the
health check says why) while it is away, and work again, by themselves,
once it answers, on the same store without a restart.
"""

import pytest

from smtpeter.store import (
    DatabaseError,
    DomainKeys,
    DomainStore,
    PostgreSQL,
    SQLiteStore,
    classify,
    openDatabase,
)
from smtpeter.testing import PostgreSQLServer, PumpedReactor

from ..conftest import eventually


@pytest.fixture
def ownServer(postgresql):
    """A PostgreSQL of this test's own, to stop and start (the session's is shared)."""
    server = PostgreSQLServer(postgresql.bindir)
    server.start()
    yield server
    server.stop()


def test_the_store_resumes_by_itself_when_postgresql_is_back(ownServer):
    reactor = PumpedReactor()
    store = SQLiteStore(PostgreSQL(ownServer.database()), reactor)
    store.start()
    try:
        assert reactor.wait(store.problems()) == []
        reactor.wait(store.suppress("a@example.com", "manual", 1.0, None, None))

        ownServer.halt()
        with pytest.raises(DatabaseError) as failed:
            reactor.wait(store.suppress("b@example.com", "manual", 2.0, None, None))
        assert classify(failed.value) == "busy"
        problems = reactor.wait(store.problems())
        assert problems and all(
            p.startswith("database postgresql:///postgres?host=") for p in problems
        ), problems

        ownServer.resume()

        def works():
            try:
                reactor.wait(store.suppress("b@example.com", "manual", 3.0, None, None))
            except DatabaseError:
                return False
            return True

        eventually(works, 10, "a write after PostgreSQL came back")
        assert reactor.wait(store.problems()) == []
        found = reactor.wait(store.suppressed(["a@example.com", "b@example.com"], 4.0))
        assert sorted(found) == ["a@example.com", "b@example.com"]
    finally:
        store.stop()


def test_the_api_and_the_dashboard_answer_503_while_it_is_away():
    import psycopg

    from smtpeter.web import storageError

    assert storageError(psycopg.OperationalError("connection refused")) == (
        503,
        "the gateway's database cannot be reached now; try again shortly",
    )
    assert storageError(psycopg.errors.UniqueViolation("taken")) is None


def test_dkim_signing_goes_on_with_the_keys_read_before(postgresDatabase):
    """While the database is away, the signer keeps the keys it read last (and says so)."""
    db = openDatabase(PostgreSQL(postgresDatabase))
    DomainStore(db).add("example.com")
    now = [0.0]
    keys = DomainKeys(DomainStore(db), ttl=10.0, clock=lambda: now[0])
    assert keys.keyFor("mail.example.com").domain == "example.com"
    db.close()  # as lost: every read fails (and connecting again is refused below)
    db.uri = "postgresql:///nosuch?host=/nonexistent"
    now[0] += 11
    assert keys.keyFor("mail.example.com").domain == "example.com"
    assert keys.hasKeys()

    fresh = DomainKeys(DomainStore(db), ttl=10.0)
    with pytest.raises(DatabaseError):  # nothing read yet: nothing to sign with
        fresh.hasKeys()
