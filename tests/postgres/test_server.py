"""The tests' own PostgreSQL (L{smtpeter.testing.PostgreSQLServer}): real, private, fresh."""

import psycopg


def test_each_test_has_a_fresh_database_on_a_socket_only(postgresql, postgresDatabase):
    with psycopg.connect(postgresDatabase) as db:
        assert db.execute("SHOW listen_addresses").fetchone() == ("",)
        assert db.execute("SHOW fsync").fetchone() == ("off",)
        assert db.info.host == str(postgresql.socket)
        tables = db.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
        ).fetchone()
        assert tables == (0,)
        db.execute("CREATE TABLE mine (n INTEGER)")


def test_and_another_one(postgresql, postgresDatabase):
    """The table the test before made is not in this one's database."""
    with psycopg.connect(postgresDatabase) as db:
        found = db.execute("SELECT to_regclass('mine') IS NULL").fetchone()
        assert found == (True,)
