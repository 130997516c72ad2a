"""The `smtpeter` administration command."""

from __future__ import annotations

import json

import pytest

from smtpeter.cli import main


def run(capsys, tmp_path, *args):
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
    assert code == 1 and "valid features: trackclicks" in err
    code, _, err = run(capsys, tmp_path, "login", "update", "ghost", "--enable", "trackopens")
    assert code == 1 and "no login named 'ghost'" in err
    code, _, err = run(capsys, tmp_path, "login", "update", "app")
    assert code == 1 and "--enable" in err


def test_help_explains_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["login", "--help"])
    out = capsys.readouterr().out
    for command in ("create", "list", "update", "enable", "disable", "reset-password", "delete"):
        assert command in out
