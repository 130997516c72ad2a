"""
The C{smtpeter} command's groups in L{smtpeter.admin.commands}: each adds
its own parser, and L{run} carries a parsed command out on a data
directory, giving back the one line to show when it went wrong.
"""

from __future__ import annotations

import argparse
import json
import socket

import pytest

from smtpeter.admin.commands import DATABASE, parser, run
from smtpeter.admin.commands._main import GROUPS

ORDER = [
    "init",
    "db",
    "login",
    "domain",
    "token",
    "webhook",
    "admin",
    "suppression",
    "queue",
    "nodes",
]


def commands(top) -> list[str]:
    [sub] = [a for a in top._actions if a.dest == "command"]
    return list(sub.choices)


def test_groups_in_help_order():
    """The groups add their commands in the order C{smtpeter --help} has always listed them."""
    assert commands(parser()) == ORDER


def _undocumented(command: argparse.ArgumentParser, path: str) -> list[str]:
    """The arguments and options of C{command} and its subcommands that have no help text."""
    missing = []
    for action in command._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subcommand in action.choices.items():
                missing += _undocumented(subcommand, f"{path} {name}")
        elif not action.help:
            missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_every_argument_has_help():
    """C{smtpeter COMMAND --help} explains every argument and option of every command."""
    assert _undocumented(parser(), "smtpeter") == []


@pytest.mark.parametrize("name", list(GROUPS))
def test_each_group_adds_only_its_command(name):
    top = argparse.ArgumentParser()
    sub = top.add_subparsers(dest="command")
    GROUPS[name].addParser(sub)
    assert list(sub.choices) == [name]


@pytest.fixture
def data(tmp_path, capsys):
    data = tmp_path / "data"
    assert run(data, parser().parse_args(["--data", str(data), "init"])) is None
    assert (data / DATABASE).is_file()
    capsys.readouterr()
    return data


def command(data, *argv):
    return run(data, parser().parse_args(["--data", str(data), *argv]))


def test_done_prints_and_returns_nothing(data, capsys):
    assert command(data, "token", "create", "reports") is None
    assert capsys.readouterr().out.startswith("created API token reports (read)\n")


def test_invalid_value_names_the_option(data):
    assert command(data, "suppression", "add", "a@x.test", "--days", "-1") == (
        "--days: a number of days from 0 to 36500; 0 for ever"
    )


def test_invalid_argument_is_the_reason_alone(data):
    error = command(data, "domain", "add", "not a domain")
    assert error.startswith("'not a domain' is not a domain name")


def test_unknown_name_points_at_the_list(data):
    assert command(data, "login", "delete", "bob") == (
        "no login named 'bob'; see 'smtpeter login list'"
    )


def test_existing_key_points_at_rotate(data):
    assert command(data, "domain", "add", "example.test", "--selector", "s1") is None
    assert command(data, "domain", "add", "example.test") == (
        "'example.test' already has a key: use 'smtpeter domain rotate example.test' for a new one"
    )


def test_suppressions_use_the_store(data, capsys):
    assert command(data, "suppression", "add", "a@x.test") is None
    capsys.readouterr()
    assert command(data, "suppression", "export") is None
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "email,reason,created,expires,messageid,login"
    assert lines[1].startswith("a@x.test,added by an administrator,")


def test_nodes_on_sqlite(data, capsys):
    """C{smtpeter nodes}: this machine, named by --node, its workers and counts from its spools."""
    assert command(data, "nodes", "--node", "mx-a") is None
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("mx-a  down  last seen never  0 workers  0 claimed")
    assert lines[-1] == "queue: 0 queued, 0 held"
    assert command(data, "nodes", "--json") is None
    found = json.loads(capsys.readouterr().out)
    assert (found["queued"], found["held"]) == (0, 0)
    [node] = found["nodes"]
    assert node["name"] == socket.gethostname() and node["status"] == "down"
