"""The `smtpeter` administration command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from attrs import evolve

from smtpeter import __version__
from smtpeter.cli import main
from smtpeter.config import Config
from smtpeter.process import recordDashboardUrls
from smtpeter.store import LoginStore, openDatabase


def run(capsys, tmp_path, *args):
    if not (tmp_path / "data").exists():
        assert main(["--data", str(tmp_path / "data"), "init"]) == 0
        capsys.readouterr()
    code = main(["--data", str(tmp_path / "data"), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_create_prints_password_once_and_list_never_does(capsys, tmp_path):
    code, out, _ = run(
        capsys,
        tmp_path,
        "login",
        "create",
        "app",
        "--json",
        "--feature",
        "trackclicks",
        "--feature",
        "inlinecss",
    )
    assert code == 0
    created = json.loads(out)
    assert created["name"] == "app" and len(created["password"]) >= 32
    assert created["features"] == ["inlinecss", "trackclicks"]
    code, out, _ = run(capsys, tmp_path, "login", "list", "--json")
    [listed] = json.loads(out)
    assert listed["name"] == "app" and listed["enabled"] is True and listed["last_used"] is None
    assert created["password"] not in out and "scrypt" not in out
    code, out, _ = run(capsys, tmp_path, "login", "list")
    assert out.startswith("app  enabled  inlinecss trackclicks")


def test_update_enable_disable_reset_delete(capsys, tmp_path):
    run(capsys, tmp_path, "login", "create", "app")
    assert (
        "trackopens" in run(capsys, tmp_path, "login", "update", "app", "--enable", "trackopens")[1]
    )
    assert "disabled" in run(capsys, tmp_path, "login", "disable", "app")[1]
    assert "enabled" in run(capsys, tmp_path, "login", "enable", "app")[1]
    first = json.loads(run(capsys, tmp_path, "login", "reset-password", "app", "--json")[1])
    second = json.loads(run(capsys, tmp_path, "login", "reset-password", "app", "--json")[1])
    assert first["password"] != second["password"]
    assert run(capsys, tmp_path, "login", "delete", "app")[0] == 0
    assert "no logins yet" in run(capsys, tmp_path, "login", "list")[1]


def test_errors_are_one_line_and_nonzero(capsys, tmp_path):
    run(capsys, tmp_path, "login", "create", "app")
    code, _, err = run(capsys, tmp_path, "login", "create", "app")
    assert code == 1 and "exists already" in err
    code, _, err = run(capsys, tmp_path, "login", "create", "x", "--feature", "nope")
    assert code == 1 and "valid features: hostedimages, inlinecss" in err
    code, _, err = run(capsys, tmp_path, "login", "update", "ghost", "--enable", "trackopens")
    assert code == 1 and "no login named 'ghost'" in err
    code, _, err = run(capsys, tmp_path, "login", "update", "app")
    assert code == 1 and "--enable" in err


def test_an_option_the_command_does_not_take_is_refused_by_that_command(capsys, tmp_path):
    """The usage shown is the command's, with the options it does take."""
    with pytest.raises(SystemExit) as stopped:
        main(["--data", str(tmp_path), "login", "update", "app", "--feature", "unsubscribe"])
    err = capsys.readouterr().err
    assert stopped.value.code == 2
    assert err.startswith("usage: smtpeter login update ") and "--enable F" in err
    last = err.splitlines()[-1]
    assert last == (
        "smtpeter login update: error: unrecognized arguments: --feature unsubscribe;"
        " see 'smtpeter login update --help'"
    )
    with pytest.raises(SystemExit):
        main(["--data", str(tmp_path), "nodes", "--nope"])
    assert capsys.readouterr().err.splitlines()[-1].startswith("smtpeter nodes: error: ")


@pytest.mark.parametrize(
    "words, says",
    [
        (["login", "list", "--data", "/srv/gw"], "smtpeter --data /srv/gw login list"),
        (
            ["login", "list", "--data=/srv/gw", "--json"],
            "smtpeter --data=/srv/gw login list --json",
        ),
        (
            ["queue", "list", "--database", "postgresql:///m"],
            "--database is an option of smtpeter itself: give it before the command:"
            " smtpeter --database postgresql:///m queue list",
        ),
    ],
)
def test_data_given_after_the_command_says_where_it_goes(capsys, words, says):
    with pytest.raises(SystemExit) as stopped:
        main(words)
    assert stopped.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(says)


def test_help_explains_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["login", "--help"])
    out = capsys.readouterr().out
    for command in ("create", "list", "update", "enable", "disable", "reset-password", "delete"):
        assert command in out


def test_domain_add_json_list_rotate_import_delete(capsys, tmp_path):
    code, out, _ = run(capsys, tmp_path, "domain", "add", "Example.COM", "--json")
    record = json.loads(out)
    assert code == 0 and set(record) == {"domain", "selector", "name", "txt"}
    assert record["domain"] == "example.com"
    assert record["name"] == f"{record['selector']}._domainkey.example.com"
    assert record["txt"].startswith("v=DKIM1; k=rsa; p=MII")
    code, out, _ = run(capsys, tmp_path, "domain", "add", "mail.example.org", "--selector", "s1")
    assert code == 0 and "s1._domainkey.mail.example.org" in out and "v=DKIM1" in out
    code, _, err = run(capsys, tmp_path, "domain", "add", "example.com")
    assert code == 1 and "domain rotate example.com" in err
    code, out, _ = run(capsys, tmp_path, "domain", "rotate", "example.com", "--json")
    rotated = json.loads(out)
    assert rotated["selector"] != record["selector"] and rotated["txt"] != record["txt"]
    code, out, _ = run(capsys, tmp_path, "domain", "list", "--json")
    keys = {(k["domain"], k["selector"]): k["active"] for k in json.loads(out)}
    assert keys == {
        ("example.com", record["selector"]): False,
        ("example.com", rotated["selector"]): True,
        ("mail.example.org", "s1"): True,
    }
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    (tmp_path / "own.pem").write_bytes(pem)
    code, out, _ = run(
        capsys,
        tmp_path,
        "domain",
        "import",
        "own.example",
        "--key",
        str(tmp_path / "own.pem"),
        "--selector",
        "mine",
        "--json",
    )
    assert code == 0 and json.loads(out)["name"] == "mine._domainkey.own.example"
    (tmp_path / "bad.pem").write_text("not a key")
    code, _, err = run(
        capsys,
        tmp_path,
        "domain",
        "import",
        "own.example",
        "--key",
        str(tmp_path / "bad.pem"),
        "--selector",
        "x",
    )
    assert code == 1 and "PEM" in err
    code, out, _ = run(capsys, tmp_path, "domain", "delete", "example.com")
    assert code == 0 and "deleted 2 key(s)" in out
    code, _, err = run(capsys, tmp_path, "domain", "delete", "example.com")
    assert code == 1 and "no DKIM key" in err
    code, _, err = run(capsys, tmp_path, "domain", "add", "localhost")
    assert code == 1 and "not a domain name" in err


def test_login_limits_and_sender_domains(capsys, tmp_path):
    code, out, _ = run(
        capsys, tmp_path, "login", "add", "app", "--rate", "100/minute", "--sender-domain", "a.test"
    )
    assert code == 0 and "rate 100/minute" in out and "senders @a.test" in out
    code, out, _ = run(
        capsys,
        tmp_path,
        "login",
        "update",
        "app",
        "--quota",
        "5000/day",
        "--over-quota",
        "hold",
        "--sender-domain",
        "a.test",
        "--sender-domain",
        "b.test",
    )
    assert code == 0
    assert "rate 0/100 this minute  quota 0/5000 this day (then held)" in out
    assert "senders @a.test @b.test" in out
    code, out, _ = run(capsys, tmp_path, "login", "show", "app", "--json")
    shown = json.loads(out)
    assert shown["usage"]["quota"]["used"] == 0 and shown["sender_domains"] == ["a.test", "b.test"]
    code, out, _ = run(
        capsys, tmp_path, "login", "update", "app", "--rate", "none", "--sender-domain", "none"
    )
    assert code == 0 and "rate" not in out and "senders" not in out and "quota 0/5000" in out
    code, _, err = run(capsys, tmp_path, "login", "update", "app", "--rate", "5/day")
    assert code == 1 and err.startswith("smtpeter: --rate: N/minute|N/hour")
    code, _, err = run(capsys, tmp_path, "login", "add", "x", "--sender-domain", "no")
    assert code == 1 and "--sender-domain: 'no' is not a domain name" in err
    assert "x" not in run(capsys, tmp_path, "login", "list")[1].split()


def test_login_public_url(capsys, tmp_path):
    run(capsys, tmp_path, "login", "create", "app")
    code, out, _ = run(
        capsys, tmp_path, "login", "update", "app", "--public-url", "https://c.customer.example/"
    )
    assert code == 0 and "links via https://c.customer.example " in out
    code, out, _ = run(capsys, tmp_path, "login", "list", "--json")
    assert json.loads(out)[0]["public_url"] == "https://c.customer.example"
    code, _, err = run(capsys, tmp_path, "login", "update", "app", "--public-url", "c.example")
    assert code == 1 and "http:// or https://" in err
    run(capsys, tmp_path, "login", "update", "app", "--public-url", "default")
    code, out, _ = run(capsys, tmp_path, "login", "list", "--json")
    assert json.loads(out)[0]["public_url"] is None


def test_commands_refuse_a_directory_without_gateway_data(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["login", "list"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"smtpeter: {tmp_path}/smtpeter-data holds no gateway data (no smtpeter.sqlite);"
        " point --data at the directory the gateway runs with (twistd smtpeter --data DIR),"
        " or make one with: smtpeter --data ./smtpeter-data init"
    ]
    assert main(["--data", str(tmp_path / "nonexistent"), "login", "create", "x"]) == 2
    assert main(["--data", str(tmp_path / "nonexistent"), "queue", "list"]) == 2
    assert list(tmp_path.iterdir()) == []  # nothing was made anywhere


def test_init_makes_what_the_gateway_would_and_is_idempotent(capsys, tmp_path):
    data = tmp_path / "data"
    assert main(["--data", str(data), "init"]) == 0
    assert "start the gateway with: twistd -n smtpeter --data" in capsys.readouterr().out
    assert (data / "smtpeter.sqlite").is_file() and len((data / "secret.key").read_bytes()) == 32
    secret = (data / "secret.key").read_bytes()
    assert main(["--data", str(data), "init"]) == 0
    assert "already holds gateway data" in capsys.readouterr().out
    assert (data / "secret.key").read_bytes() == secret
    assert main(["--data", str(data), "login", "create", "app"]) == 0


def test_init_where_no_directory_can_be_made_is_one_line(capsys, tmp_path):
    (tmp_path / "file").write_text("")
    assert main(["--data", str(tmp_path / "file" / "data"), "init"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"smtpeter: cannot make the data directory {tmp_path / 'file' / 'data'}:"
        " Not a directory; give --data a directory that you may create"
    ]


def test_a_database_that_cannot_be_written_is_one_line(capsys, tmp_path):
    data = tmp_path / "data"
    main(["--data", str(data), "init"])
    database = data / "smtpeter.sqlite"
    if os.geteuid() == 0:  # root writes whatever the mode says, but not an immutable file
        subprocess.run(["chattr", "+i", str(database)], check=True)
    else:
        database.chmod(0o444)
        data.chmod(0o555)
    try:
        assert main(["--data", str(data), "login", "create", "app"]) == 1
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(database)], check=True)
        else:
            data.chmod(0o755)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "attempt to write a readonly database" in err[0]
    assert err[0].startswith(f"smtpeter: cannot use {database}: ")


def test_a_damaged_spool_is_named_in_one_line(capsys, tmp_path):
    """Not the gateway's database, which is fine: the worker's spool that is not."""
    data = tmp_path / "data"
    main(["--data", str(data), "init"])
    capsys.readouterr()
    spool = data / "spool-2" / "spool.db"
    spool.parent.mkdir()
    spool.write_bytes(b"this is not a database\n" * 100)
    assert main(["--data", str(data), "queue", "list"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"smtpeter: cannot read the spool database {spool}: ")
    assert "file is not a database" in err[0] and "smtpeter.sqlite" not in err[0]


def test_json_into_a_closed_pipe_is_one_line(tmp_path):
    data = tmp_path / "data"
    smtpeter = [str(Path(sys.executable).parent / "smtpeter"), "--data", str(data)]
    subprocess.run([*smtpeter, "init"], check=True, capture_output=True)
    logins = LoginStore(openDatabase(data / "smtpeter.sqlite"))
    for n in range(2000):  # a listing larger than the pipe's buffer
        logins.create(f"app{n}", ["trackclicks"])
    listing = subprocess.Popen(
        [*smtpeter, "login", "list", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    listing.stdout.read(10)
    listing.stdout.close()  # what `| head -c 10` does
    err = listing.stderr.read().decode()
    assert listing.wait() == 1
    assert err.splitlines() == [
        "smtpeter: output closed before it was all written (broken pipe)"
    ], err


def test_version(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0
    assert capsys.readouterr().out.strip() == f"smtpeter {__version__}"


def test_suppression_commands(capsys, tmp_path):
    assert run(capsys, tmp_path, "suppression", "add", "A@Example.COM", "--days", "2")[0] == 0
    listing = tmp_path / "in.csv"
    listing.write_text("email,reason\nb@x.test,old list\nc@x.test\n\n")
    code, out, _ = run(capsys, tmp_path, "suppression", "import", str(listing), "--json")
    assert code == 0 and json.loads(out) == {"imported": 2}
    code, out, _ = run(capsys, tmp_path, "suppression", "list", "--json")
    entries = json.loads(out)
    assert [(e["email"], e["reason"]) for e in entries] == [
        ("A@example.com", "added by an administrator"),
        ("b@x.test", "old list"),
        ("c@x.test", "added by an administrator"),
    ]
    assert entries[0]["expires"] and entries[1]["expires"] is None
    code, out, _ = run(capsys, tmp_path, "suppression", "export")
    assert (
        out.splitlines()[0] == "email,reason,created,expires,messageid,login"
        and len(out.splitlines()) == 4
    )
    assert run(capsys, tmp_path, "suppression", "delete", "a@example.com")[0] == 0
    code, _, err = run(capsys, tmp_path, "suppression", "delete", "a@example.com")
    assert code == 1 and err.strip() == "smtpeter: a@example.com is not suppressed"
    code, _, err = run(capsys, tmp_path, "suppression", "add", "nobody")
    assert code == 1 and err.strip() == "smtpeter: 'nobody' is not an email address"


def test_suppressions_scoped_to_a_login(capsys, tmp_path):
    """An unsubscribe's entry is one login's: listed, filtered, exported and deleted as such."""
    code, _, err = run(capsys, tmp_path, "suppression", "add", "r@x.test", "--login", "app")
    assert code == 1 and err.strip() == (
        "smtpeter: --login: no login named 'app'; see 'smtpeter login list'"
    )
    assert run(capsys, tmp_path, "login", "create", "app")[0] == 0
    code, out, _ = run(capsys, tmp_path, "suppression", "add", "r@x.test", "--login", "app")
    assert code == 0 and "for login app" in out
    assert run(capsys, tmp_path, "suppression", "add", "r@x.test")[0] == 0
    code, out, _ = run(capsys, tmp_path, "suppression", "list")
    lines = out.splitlines()
    assert "for login app" in lines[0] and "for every login" in lines[1]
    code, out, _ = run(capsys, tmp_path, "suppression", "list", "--login", "app", "--json")
    assert [(e["email"], e["login"]) for e in json.loads(out)] == [("r@x.test", "app")]
    # Export, then import into another database: the scope comes along.
    code, out, _ = run(capsys, tmp_path, "suppression", "export")
    exported = tmp_path / "out.csv"
    exported.write_text(out)
    other = tmp_path / "other"
    other.mkdir()
    assert run(capsys, other, "suppression", "import", str(exported))[0] == 0
    code, out, _ = run(capsys, other, "suppression", "list", "--json")
    assert sorted((e["email"], e["login"] or "") for e in json.loads(out)) == [
        ("r@x.test", ""),
        ("r@x.test", "app"),
    ]
    code, _, err = run(capsys, tmp_path, "suppression", "delete", "r@x.test", "--login", "b")
    assert code == 1 and err.strip() == "smtpeter: r@x.test is not suppressed for login b"
    code, out, _ = run(capsys, tmp_path, "suppression", "delete", "r@x.test", "--login", "app")
    assert code == 0 and out.strip() == "r@x.test is no longer suppressed for login app"
    code, out, _ = run(capsys, tmp_path, "suppression", "list", "--json")
    assert [e["login"] for e in json.loads(out)] == [None]


def test_an_import_keeps_each_rows_own_expiry_and_counts_entries(capsys, tmp_path):
    """
    Re-importing an export keeps every row's expiry (an unsubscribe's for
    ever, too); --days is for rows without an expires column. The count is
    of entries (an address in one scope), not of lines.
    """
    assert run(capsys, tmp_path, "login", "create", "app")[0] == 0
    assert run(capsys, tmp_path, "suppression", "add", "r@x.test", "--login", "app")[0] == 0
    assert run(capsys, tmp_path, "suppression", "add", "b@x.test", "--days", "2")[0] == 0
    code, out, _ = run(capsys, tmp_path, "suppression", "export")
    exported = tmp_path / "out.csv"
    exported.write_text(out + "r@x.test,by hand\nr@x.test,again\n")
    code, out, _ = run(capsys, tmp_path, "suppression", "list", "--json")
    expiry = {(e["email"], e["login"]): e["expires"] for e in json.loads(out)}
    other = tmp_path / "other"
    other.mkdir()
    code, out, _ = run(capsys, other, "suppression", "import", str(exported), "--days", "30")
    assert code == 0 and out.strip() == f"suppressed 3 entries from {exported}"
    code, out, _ = run(capsys, other, "suppression", "list", "--json")
    found = {(e["email"], e["login"]): e["expires"] for e in json.loads(out)}
    assert found[("r@x.test", "app")] is None  # the unsubscribe stays for ever
    assert found[("b@x.test", None)] == expiry[("b@x.test", None)]
    assert found[("r@x.test", None)] is not None  # a plain row: --days
    assert len(found) == 3
    bad = tmp_path / "bad.csv"
    bad.write_text("a@x.test,r,,next week,,\n")
    code, _, err = run(capsys, other, "suppression", "import", str(bad))
    assert code == 1 and err.strip() == (
        f"smtpeter: {bad}, line 1: expires: 'next week' is not an ISO 8601 time"
        " (as export writes it), nor empty for ever; nothing was imported"
    )


def test_dashboard_users(capsys, tmp_path):
    code, out, _ = run(capsys, tmp_path, "admin", "create", "alice", "--json")
    made = json.loads(out)
    assert code == 0 and set(made) == {"name", "password", "role"} and made["role"] == "admin"
    code, out, _ = run(capsys, tmp_path, "admin", "create", "bob", "--role", "viewer")
    assert code == 0 and "password: " in out and "(viewer)" in out
    code, out, _ = run(capsys, tmp_path, "admin", "list", "--json")
    listed = json.loads(out)
    assert [(u["name"], u["role"]) for u in listed] == [("alice", "admin"), ("bob", "viewer")]
    assert all("password" not in u for u in listed)
    code, out, _ = run(capsys, tmp_path, "admin", "reset-password", "alice", "--json")
    assert json.loads(out)["password"] != made["password"]
    assert run(capsys, tmp_path, "admin", "create", "alice")[0] == 1
    assert run(capsys, tmp_path, "admin", "delete", "bob")[0] == 0
    code, _, err = run(capsys, tmp_path, "admin", "delete", "bob")
    assert code == 1 and "no dashboard user named 'bob'" in err


def test_admin_create_says_where_the_dashboard_is(capsys, tmp_path):
    # No gateway has started on the directory: the default, said to be one.
    code, out, _ = run(capsys, tmp_path, "admin", "create", "alice")
    assert code == 0
    assert "at http://127.0.0.1:8081/ (the default --dashboard;" in out
    # What a starting gateway records (recordDashboardUrls) is what it prints.
    config = Config(
        data=tmp_path / "data",
        hostname="gw.example.com",
        dashboard=("tcp:9443:interface=127.0.0.1", "ssl:8443:privateKey=k.pem"),
    )
    recordDashboardUrls(config)
    code, out, _ = run(capsys, tmp_path, "admin", "create", "bob")
    assert "8081" not in out
    assert (
        "Log in to the dashboard with it at http://127.0.0.1:9443/ or https://gw.example.com:8443/."
        in out
    )
    recordDashboardUrls(evolve(config, dashboard=()))
    code, out, _ = run(capsys, tmp_path, "admin", "reset-password", "bob")
    assert code == 0 and "--dashboard none" in out and "http" not in out


def test_dashboard_user_passwords_and_generations(tmp_path):
    from smtpeter.store._admins import AdminStore

    store = AdminStore(openDatabase(tmp_path / "db.sqlite"), clock=lambda: 50.0)
    user, password = store.create("alice", "viewer")
    assert store.check("alice", password).generation == 1
    assert store.check("alice", "wrong") is None and store.check("nobody", password) is None
    # Checking a password is not a log-in: the throttle may yet refuse it.
    assert store.get("alice").lastLogin is None
    store.noteLogin("alice")
    assert store.get("alice").lastLogin == 50.0
    again, newPassword = store.resetPassword("alice")
    assert again.generation == 2  # sessions signed before the reset stop working
    assert store.check("alice", password) is None and store.check("alice", newPassword)


def test_webhook_add_refuses_internal_destinations_in_one_line(capsys, tmp_path):
    for url in ("http://127.0.0.1:6379/", "http://2130706433/", "http://localhost/x"):
        code, out, err = run(capsys, tmp_path, "webhook", "add", url, "--event", "click")
        assert code == 1 and out == "" and len(err.splitlines()) == 1, err
        assert err.startswith("smtpeter: url: ") and "127.0.0.1 is not allowed (loopback" in err
    code, out, err = run(
        capsys,
        tmp_path,
        *("webhook", "add", "http://localhost:9/", "--event", "click"),
        *("--webhook-allow-network", "127.0.0.0/8"),
    )
    assert code == 0 and "added webhook 1: http://localhost:9/" in out
    code, _, err = run(
        capsys,
        tmp_path,
        *("webhook", "add", "http://localhost:9/", "--event", "click"),
        *("--webhook-allow-network", "loopback"),
    )
    assert code == 1 and len(err.splitlines()) == 1 and "such as 10.0.0.0/8" in err
    assert len(json.loads(run(capsys, tmp_path, "webhook", "list", "--json")[1])) == 1


def test_a_send_token_names_its_login(capsys, tmp_path):
    run(capsys, tmp_path, "login", "create", "app")
    code, out, _ = run(
        capsys, tmp_path, "token", "create", "shop", "--scope", "send", "--login", "app", "--json"
    )
    assert code == 0
    made = json.loads(out)
    assert (made["scope"], made["login"]) == ("send", "app")
    assert made["token"].startswith("spt_")
    code, out, _ = run(capsys, tmp_path, "token", "list")
    assert "shop  send (login app)" in out
    [listed] = json.loads(run(capsys, tmp_path, "token", "list", "--json")[1])
    assert listed["login"] == "app"


@pytest.mark.parametrize(
    "args, said",
    [
        (("--scope", "send"), "--login: required for a send token"),
        (("--scope", "send", "--login", "nobody"), "no login named 'nobody'"),
        (("--scope", "read", "--login", "app"), "--login: only a send token has a login"),
    ],
)
def test_send_token_mistakes_get_one_line(capsys, tmp_path, args, said):
    run(capsys, tmp_path, "login", "create", "app")
    code, out, err = run(capsys, tmp_path, "token", "create", "shop", *args)
    assert code != 0
    [line] = err.strip().splitlines()
    assert said in line
    assert json.loads(run(capsys, tmp_path, "token", "list", "--json")[1]) == []
