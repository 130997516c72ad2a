"""
C{smtpeter db copy --to URI}: a stopped gateway's SQLite database, every
table of it, into an empty PostgreSQL database, in one transaction.
"""

from __future__ import annotations

from smtpeter.admin import Administration
from smtpeter.cli import main
from smtpeter.events import Destinations
from smtpeter.message import Envelope, Options, QueuedMessage, Recipient
from smtpeter.process import DataDirectoryLock
from smtpeter.queue import SpoolDatabase
from smtpeter.store import (
    DatabaseImageStore,
    EventQuery,
    ImageStore,
    LoginStore,
    PostgreSQL,
    _engine,
    _postgres,
    openDatabase,
)
from smtpeter.store._events import EventStore


def test_a_gateway_database_is_copied_whole(tmp_path, postgresDatabase, capsys):
    data = str(tmp_path / "data")
    assert main(["--data", data, "init"]) == 0
    assert main(["--data", data, "login", "create", "app", "--json"]) == 0
    capsys.readouterr()
    db = openDatabase(tmp_path / "data" / "smtpeter.sqlite")
    _, password = LoginStore(db).create("web", ["trackclicks"])
    store = EventStore(db)
    envelope = Envelope("news@shop.test", (Recipient("a@x.test"),))
    store.addMessage(
        QueuedMessage("0123456789ABCDEF0123", envelope, Options(login="web"), 1000.0, b"x")
    )
    store.addEvent("delivery", 1001.0, "0123456789ABCDEF0123", "a@x.test", ("spring",), {})
    db.close()
    for command in (
        ["domain", "add", "example.com"],
        ["token", "create", "ops"],
        ["webhook", "add", "https://93.184.216.34/hook", "--event", "delivery"],
        ["suppression", "add", "gone@x.test"],
        ["admin", "create", "boss"],
    ):
        assert main(["--data", data, *command]) == 0, command
    capsys.readouterr()
    image = ImageStore(tmp_path / "data" / "images").put(b"GIF89a...", "image/gif")

    source = openDatabase(tmp_path / "data" / "smtpeter.sqlite")
    counts = {
        t: source.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in _engine.tables(source)
    }
    source.close()
    assert counts["logins"] == 2 and counts["events"] == 1 and counts["stats_hourly"] >= 1
    counts["images"] = 1  # on SQLite a file, not a row

    assert main(["--data", data, "db", "copy", "--to", postgresDatabase]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"copied {data}/smtpeter.sqlite to postgresql:///postgres?")
    assert sorted(out[1:-2]) == sorted(
        f"  {table}: {n}" for table, n in counts.items() if table != "schema_version"
    )
    assert out[-2] == "  and secret.key, which signs links and bounce addresses, for every node"
    assert out[-1] == (
        f"Start the gateway with: twistd -n smtpeter --data {data} --database '{postgresDatabase}'"
    )

    # The copy is the gateway's state: the password works, numbering goes on,
    # and links it signed verify on every node.
    pg = openDatabase(PostgreSQL(postgresDatabase))
    secret = (tmp_path / "data" / "secret.key").read_bytes()
    assert pg.execute("SELECT value FROM secrets").fetchall() == [(secret.hex(),)]
    images = DatabaseImageStore(PostgreSQL(postgresDatabase))
    assert images.get(image) == (b"GIF89a...", "image/gif")
    images.close()
    assert LoginStore(pg).authenticate("web", password).features == {"trackclicks"}
    assert EventStore(pg).messageEvents("0123456789ABCDEF0123")[0].tags == ("spring",)
    # Found by its tag, in the table of its day (1970-01-01), tag and all.
    [tagged] = EventStore(pg).events(EventQuery(tag="spring"))
    for table in ("events", "event_tags"):
        found = pg.execute(f"SELECT tableoid::regclass::text FROM {table}").fetchall()
        assert found == [(f"{table}_19700101",)], table
    admin = Administration(pg, destinations=Destinations())
    assert admin.addWebhook("https://93.184.216.34/other", ["click"])["id"] == 2
    assert [d["domain"] for d in admin.listDomains()] == ["example.com"]
    pg.close()

    # Into a database that holds data: nothing.
    assert main(["--data", data, "db", "copy", "--to", postgresDatabase]) == 1
    err = capsys.readouterr().err
    assert "holds data already" in err and err.count("\n") == 1


def test_the_gateway_must_be_stopped_and_the_target_postgresql(tmp_path, postgresDatabase, capsys):
    data = tmp_path / "data"
    assert main(["--data", str(data), "init"]) == 0
    lock = DataDirectoryLock.acquire(data)  # as a running gateway holds it
    try:
        assert main(["--data", str(data), "db", "copy", "--to", postgresDatabase]) == 1
        assert "stop the gateway before copying its database" in capsys.readouterr().err
    finally:
        lock.release()
    assert main(["--data", str(data), "db", "copy", "--to", "sqlite:"]) == 1
    assert "--to: give the PostgreSQL database" in capsys.readouterr().err
    # Nothing was copied by the refused attempts.
    target = _postgres.connect(postgresDatabase)
    assert _postgres.tables(target) == set()


def test_mail_still_queued_in_the_spools_stops_the_copy(tmp_path, postgresDatabase, capsys):
    """On PostgreSQL the queue is the shared one: what the spools hold would wait for good."""
    data = tmp_path / "data"
    assert main(["--data", str(data), "init"]) == 0
    spool = SpoolDatabase(data / "spool", keepSent=1)
    spool.open()
    envelope = Envelope("news@shop.test", (Recipient("a@x.test"),))
    message = QueuedMessage("0123456789ABCDEF0123", envelope, Options(login="app"), 1000.0, b"x")
    assert spool.apply([("store", message)]) == [None]
    spool.close()
    capsys.readouterr()
    assert main(["--data", str(data), "db", "copy", "--to", postgresDatabase]) == 1
    err = capsys.readouterr().err
    assert "still hold 1 queued or held message(s)" in err and err.count("\n") == 1
    assert _postgres.tables(_postgres.connect(postgresDatabase)) == set()
