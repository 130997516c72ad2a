"""
C{--database} and C{SMTPETER_DATABASE}: absent or C{sqlite:}, SQLite in
the data directory as always; a C{postgresql://} URI, PostgreSQL, for
C{twistd smtpeter} and every C{smtpeter} command alike.
"""

from __future__ import annotations

import json
import sys

import pytest
from twisted.python import usage

from smtpeter.cli import main
from smtpeter.runtime import redacted
from smtpeter.store import CURRENT, PostgreSQL, _postgres, parseDatabase, version
from smtpeter.tap import Options


@pytest.mark.parametrize("value", [None, "", "sqlite:", " sqlite: "])
def test_sqlite_in_the_data_directory_unless_told(value):
    assert parseDatabase(value, {}) is None


def test_the_environment_stands_in_for_the_option():
    environ = {"SMTPETER_DATABASE": "postgresql:///mail?host=/run/pg"}
    assert parseDatabase(None, environ) == PostgreSQL("postgresql:///mail?host=/run/pg")
    assert parseDatabase("sqlite:", environ) is None  # the option wins


@pytest.mark.parametrize(
    "value, says",
    [
        ("mysql://db/mail", "is not a database URI: write sqlite:"),
        ("sqlite:/var/mail.db", "write sqlite: alone"),
        ("postgresql:mail", "write postgresql://"),
        ("postgresql://db/mail?nosuch=1", 'invalid URI query parameter: "nosuch"'),
    ],
)
def test_a_bad_uri_is_one_line_saying_what_to_write(value, says):
    with pytest.raises(ValueError) as refused:
        parseDatabase(value, {})
    assert says in str(refused.value) and "\n" not in str(refused.value)


def test_without_psycopg_the_line_names_what_to_install(monkeypatch):
    # What pip installs anywhere, a checkout too: smtpeter itself may be on no index.
    monkeypatch.setitem(sys.modules, "psycopg.conninfo", None)  # import fails
    with pytest.raises(ValueError) as refused:
        parseDatabase("postgresql:///mail", {})
    assert "pip install 'psycopg[binary]>=3.2'" in str(refused.value)


def test_a_password_is_never_shown():
    database = parseDatabase("postgresql://mail:s3cret@db.example/mail", {})
    assert "s3cret" not in str(database) and "s3cret" not in repr(database)
    assert str(database) == "postgresql://mail:***@db.example/mail"
    assert redacted("postgresql:///mail") == "postgresql:///mail"


def test_twistd_takes_the_option(tmp_path):
    options = Options()
    options.parseOptions(["--data", str(tmp_path), "--database", "postgresql:///mail"])
    assert options.config.postgresql == PostgreSQL("postgresql:///mail")
    assert options.config.sharedDatabase == PostgreSQL("postgresql:///mail")
    options = Options()
    options.parseOptions(["--data", str(tmp_path)])
    assert options.config.sharedDatabase == tmp_path / "smtpeter.sqlite"
    with pytest.raises((usage.UsageError, SystemExit)) as refused:
        Options().parseOptions(["--data", str(tmp_path), "--database", "mysql://x"])
    assert "--database: 'mysql://x' is not a database URI" in str(refused.value)


def test_every_command_on_postgresql(postgresDatabase, tmp_path, capsys, monkeypatch):
    data = str(tmp_path / "data")
    assert main(["--data", data, "--database", postgresDatabase, "db", "upgrade"]) == 0
    assert f"upgraded the schema from version 0 to {CURRENT}" in capsys.readouterr().out
    assert version(_postgres.connect(postgresDatabase)) == CURRENT
    assert main(["--database", postgresDatabase, "login", "create", "app", "--json"]) == 0
    created = json.loads(capsys.readouterr().out)
    monkeypatch.setenv("SMTPETER_DATABASE", postgresDatabase)
    assert main(["login", "list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["name"] == created["name"] == "app"
    assert main(["domain", "add", "example.com"]) == 0
    assert main(["domain", "add", "example.com"]) == 1
    assert "already has a key" in capsys.readouterr().err
    assert main(["db", "upgrade"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    # The SQLite file of --data was never made.
    assert not (tmp_path / "data" / "smtpeter.sqlite").exists()


def test_init_makes_the_data_directory_and_the_postgresql_schema(
    postgresDatabase, tmp_path, capsys
):
    data = tmp_path / "data"
    assert main(["--data", str(data), "--database", postgresDatabase, "init"]) == 0
    out = capsys.readouterr().out
    assert f"its shared state in {postgresDatabase};" in out
    assert out.rstrip().endswith(f"--data {data} --database '{postgresDatabase}'")
    assert (data / "secret.key").is_file() and not (data / "smtpeter.sqlite").exists()
    assert version(_postgres.connect(postgresDatabase)) == CURRENT
    # A second node takes the first one's secret: a link either signed, both check.
    other = tmp_path / "other"
    assert main(["--data", str(other), "--database", postgresDatabase, "init"]) == 0
    assert (other / "secret.key").read_bytes() == (data / "secret.key").read_bytes()
    assert oct((other / "secret.key").stat().st_mode & 0o777) == "0o600"


def test_a_server_that_cannot_be_reached_is_one_line(tmp_path, capsys):
    socket = tmp_path / "nowhere"
    code = main(["--database", f"postgresql:///mail?host={socket}", "login", "list"])
    assert code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(
        f"smtpeter: cannot use the PostgreSQL database postgresql:///mail?host={socket}:"
    )
    assert main(["--database", "oracle://x", "login", "list"]) == 2
    assert "--database: 'oracle://x' is not a database URI" in capsys.readouterr().err
