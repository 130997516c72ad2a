"""
C{smtpeter db copy --to URI}: a stopped gateway's SQLite database, every
table of it, and the mail queued and held in its spools, into an empty
PostgreSQL database, in one transaction.
"""

from __future__ import annotations

import json
import os
import time

import psycopg

from smtpeter.admin import Administration
from smtpeter.cli import main
from smtpeter.events import Destinations
from smtpeter.message import Envelope, Options, QueuedMessage, Recipient
from smtpeter.process import DataDirectoryLock
from smtpeter.queue import DiskSpool, SharedQueueDatabase, Spilled, SpoolDatabase
from smtpeter.queue.manager import DONE, RecipientState
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

DEFERRED, HELD, RELEASED = "0000000000000000000A", "0000000000000000000B", "0000000000000000000C"
FINISHED, LARGE = "0000000000000000000D", "0000000000000000000E"


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
        [f"  {table}: {n}" for table, n in counts.items() if table != "schema_version"]
        + ["  queued messages: 0", "  queued recipients: 0", "  held messages: 0"]
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
        err = capsys.readouterr().err
        assert f"in use by a running gateway (pid {os.getpid()})" in err
        assert "stop the gateway before copying its database" in err
        assert "--data directory" not in err  # a gateway's advice, not the copy's
        assert err.count("\n") == 1
    finally:
        lock.release()
    assert main(["--data", str(data), "db", "copy", "--to", "sqlite:"]) == 1
    assert "--to: give the PostgreSQL database" in capsys.readouterr().err
    nowhere = f"postgresql:///smtpeter?host={tmp_path}"
    assert main(["--data", str(data), "db", "copy", "--to", nowhere]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"smtpeter: cannot use the PostgreSQL database {nowhere}: ")
    assert err.count("\n") == 1
    # Nothing was copied by the refused attempts.
    target = _postgres.connect(postgresDatabase)
    assert _postgres.tables(target) == set()


def spoolMessage(qid, recipients=("a@x.test",), hold=False, content=b"Subject: x\r\n\r\nx\r\n"):
    envelope = Envelope("news@shop.test", tuple(Recipient(r) for r in recipients))
    return QueuedMessage(qid, envelope, Options(login="app", hold=hold), 1000.0, content)


def test_the_mail_of_every_spool_is_copied_into_the_shared_queue(
    tmp_path, postgresDatabase, capsys, sharedQueued
):
    """Queued and held, each as it was: due when it was, its states kept, held mail held."""
    data = tmp_path / "data"
    assert main(["--data", str(data), "init"]) == 0
    later = time.time() + 3600
    deferred = {**RecipientState(attempts=2, nextAttempt=later, last="451 4.3.0 busy").toJSON()}
    done = RecipientState(status=DONE, attempts=1, last="250 ok").toJSON()
    released = RecipientState(released=True).toJSON()
    first = SpoolDatabase(data / "spool")
    first.open()
    # Deferred, one of its two recipients delivered; held; held and released.
    assert (
        first.apply(
            [
                ("store", spoolMessage(DEFERRED, ("a@x.test", "b@x.test"))),
                ("states", DEFERRED, {0: done, 1: deferred}),
                ("store", spoolMessage(HELD, hold=True)),
                ("store", spoolMessage(RELEASED, hold=True)),
                ("states", RELEASED, {0: released}),
                # Finished, its removal not committed: not copied (a start drops it).
                ("store", spoolMessage(FINISHED)),
                ("states", FINISHED, {0: done}),
            ]
        )
        == [None] * 7
    )
    first.close()
    # Worker 2's spool, with a body too large to keep in its row (a file in large/).
    second = SpoolDatabase(data / "spool-2")
    second.open()
    body = data / "body"
    body.write_bytes(b"\r\n" + b"y" * (2 << 20))
    large = spoolMessage(LARGE, content=Spilled(b"Subject: large\r\n", body, body.stat().st_size))
    second.writeLarge(large)
    assert second.apply([("store", large)]) == [None]
    second.close()
    before = {p: p.read_bytes() for p in data.glob("spool*/spool.db")}
    capsys.readouterr()

    assert main(["--data", str(data), "db", "copy", "--to", postgresDatabase, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["queue"] == {"messages": 4, "recipients": 4, "held": 1}
    assert summary["tables"]["logins"] == 0 and summary["secret"] is True
    # The spools are as they were (a reader's -shm file aside).
    assert {p: p.read_bytes() for p in data.glob("spool*/spool.db")} == before
    assert (data / "spool-2" / "large" / LARGE).is_file()

    queue = SharedQueueDatabase(lambda: psycopg.connect(postgresDatabase), "n/1", "n", 60.0)
    rows = {
        qid: (due, owner)
        for qid, due, owner in queue.db.execute("SELECT qid, due, owner FROM queue_messages")
    }
    queue.db.rollback()
    assert rows == {
        DEFERRED: (later, None),
        HELD: (None, None),
        RELEASED: (0.0, None),
        LARGE: (0.0, None),
    }
    assert queue.readContent(LARGE) == large.content.read()
    # Due now: the released one and the large one, not the deferred one nor the held one.
    claimed = {found.qid: states for found, states in queue.claim(10)}
    assert claimed == {RELEASED: {0: released}, LARGE: {}}
    [(meta, states)] = sharedQueued(DEFERRED)
    assert states == {0: done, 1: deferred}
    assert meta["envelope"]["recipients"][1]["address"] == "b@x.test"
    assert queue.claimOne(HELD, held=True) is not None
    queue.close()


def test_the_summary_says_what_was_copied_and_what_to_do(tmp_path, postgresDatabase, capsys):
    data = tmp_path / "data"
    assert main(["--data", str(data), "init"]) == 0
    spool = SpoolDatabase(data / "spool")
    spool.open()
    assert spool.apply([("store", spoolMessage(HELD, ("a@x.test", "b@x.test"), True))]) == [None]
    spool.close()
    capsys.readouterr()
    assert main(["--data", str(data), "db", "copy", "--to", postgresDatabase]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "  queued messages: 1" in out and "  queued recipients: 2" in out
    assert "  held messages: 1" in out
    assert out[-2] == (
        f"The spools in {data} still hold that mail, untouched: never start the gateway"
        " on SQLite with them again (it would send it a second time)."
    )


def test_into_a_database_whose_queue_holds_mail_nothing_is_copied(
    tmp_path, postgresDatabase, capsys
):
    data = tmp_path / "data"
    assert main(["--data", str(data), "init"]) == 0
    pg = openDatabase(PostgreSQL(postgresDatabase))
    pg.close()
    queue = SharedQueueDatabase(lambda: psycopg.connect(postgresDatabase), "n/1", "n", 60.0)
    assert queue.apply([("store", spoolMessage(HELD))]) == [None]
    queue.close()
    assert main(["--data", str(data), "db", "copy", "--to", postgresDatabase]) == 1
    err = capsys.readouterr().err
    assert "holds data already (queue_bodies, queue_messages)" in err and err.count("\n") == 1


def test_a_failure_in_the_queue_copies_nothing(tmp_path, postgresDatabase, capsys):
    """One transaction: a spool that cannot be read leaves the database as it was."""
    data = tmp_path / "data"
    assert main(["--data", str(data), "init"]) == 0
    assert main(["--data", str(data), "login", "create", "app"]) == 0
    spool = SpoolDatabase(data / "spool")
    spool.open()
    message = spoolMessage(LARGE, content=Spilled(b"Subject: x\r\n", data / "none", 5))
    assert spool.apply([("store", message)]) == [None]  # its large/ file never written
    spool.close()
    capsys.readouterr()
    assert main(["--data", str(data), "db", "copy", "--to", postgresDatabase]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"smtpeter: {data / 'spool'}: the content of queued message {LARGE} cannot be read"
        f" (No such file or directory: {data / 'spool' / 'large' / LARGE}); nothing was copied\n"
    )
    pg = _postgres.connect(postgresDatabase)
    assert pg.execute("SELECT count(*) FROM logins").fetchone()[0] == 0
    assert pg.execute("SELECT count(*) FROM queue_messages").fetchone()[0] == 0
    pg.close()
    # Put right, it goes.
    (data / "spool" / "large" / LARGE).write_bytes(b"Subject: x\r\n\r\nbody")
    assert main(["--data", str(data), "db", "copy", "--to", postgresDatabase]) == 0


def test_queue_files_of_an_earlier_release_stop_the_copy(tmp_path, postgresDatabase, capsys):
    """A start on SQLite imports them first; the copy does not read them."""
    data = tmp_path / "data"
    assert main(["--data", str(data), "init"]) == 0
    files = DiskSpool(data / "spool-2")
    files.prepare()
    files.store(spoolMessage(HELD))
    files.close()
    capsys.readouterr()
    assert main(["--data", str(data), "db", "copy", "--to", postgresDatabase]) == 1
    err = capsys.readouterr().err
    assert f"{data / 'spool-2' / 'queue'} holds queued mail as files of an earlier" in err
    assert err.count("\n") == 1
    assert _postgres.tables(_postgres.connect(postgresDatabase)) == set()
