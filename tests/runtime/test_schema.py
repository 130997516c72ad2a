"""
The numbered schema steps (L{smtpeter.runtime.loadSteps}): the shipped
folders are clean sequences, and a folder that is not (two helpers who chose
the same number, a gap, a misnamed file) is refused at load, naming the files.
"""

import re
from pathlib import Path

import pytest

from smtpeter.runtime import loadSteps
from smtpeter.runtime._schema import DIALECTS, stepsIn

#: The packages that ship a C{schema/} folder.
SHIPPED = ("smtpeter.store", "smtpeter.queue")


def folder(tmp_path: Path, *names: str) -> Path:
    """A schema folder holding C{names}, each a file with one statement."""
    for name in names:
        (tmp_path / name).write_text(f"-- {name}\nCREATE TABLE t_{len(name)} (x INTEGER);\n")
    return tmp_path


@pytest.mark.parametrize("package", SHIPPED)
@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_shipped_steps_are_numbered_1_to_n_without_duplicates(package, dialect):
    steps = loadSteps(package, dialect)
    assert [s.version for s in steps] == list(range(1, len(steps) + 1))
    assert all(s.statements() for s in steps)


@pytest.mark.parametrize("package", SHIPPED)
def test_no_shipped_number_has_two_files_for_one_dialect(package):
    """Read from the files themselves, not through the loader under test."""
    import importlib.resources

    seen: dict[tuple[int, str], list[str]] = {}
    names: dict[int, set[str]] = {}
    for entry in importlib.resources.files(package).joinpath("schema").iterdir():
        match = re.match(r"^(\d{3})_(\w+?)(?:\.(\w+))?\.sql$", entry.name)
        if match is None:
            continue
        number, name, only = int(match[1]), match[2], match[3] or "common"
        seen.setdefault((number, only), []).append(entry.name)
        names.setdefault(number, set()).add(name)
    assert {k: v for k, v in seen.items() if len(v) > 1} == {}
    assert {n: v for n, v in names.items() if len(v) > 1} == {}
    assert sorted(names) == list(range(1, len(names) + 1))


def test_a_dialect_s_own_file_stands_in_for_the_common_one(tmp_path):
    where = folder(tmp_path, "001_initial.sql", "001_initial.postgres.sql", "002_more.sql")
    postgres = stepsIn(where, "postgres", "test")
    sqlite = stepsIn(where, "sqlite", "test")
    assert [(s.version, s.name) for s in postgres] == [(1, "initial"), (2, "more")]
    assert "001_initial.postgres.sql" in postgres[0].sql
    assert "001_initial.sql" in sqlite[0].sql and "postgres" not in sqlite[0].sql


@pytest.mark.parametrize(
    "names",
    [
        ("001_a.sql", "002_send.sql", "002_unsubscribe.sql"),
        ("001_a.sql", "002_send.postgres.sql", "002_send.sqlite.sql", "002_unsubscribe.sql"),
        ("001_a.sql", "002_send.postgres.sql", "002_unsubscribe.sqlite.sql"),
        ("001_a.sql", "002_send.sql", "002_unsubscribe.postgres.sql"),
    ],
)
def test_two_steps_with_one_number_are_refused_naming_both(tmp_path, names):
    where = folder(tmp_path, *names)
    for dialect in DIALECTS:
        with pytest.raises(RuntimeError) as raised:
            stepsIn(where, dialect, "smtpeter.store")
        message = str(raised.value)
        assert "two schema steps numbered 002" in message
        assert "unsubscribe" in message and "002_send" in message


def test_files_that_are_no_sql_are_let_be(tmp_path):
    where = folder(tmp_path, "001_a.sql", "002_b.postgres.sql", "002_b.sqlite.sql")
    (where / "002_b.postgres.sql.orig").write_text("not a step")
    (where / "__init__.py").write_text("")
    assert [s.version for s in stepsIn(where, "postgres", "test")] == [1, 2]


def test_a_gap_is_refused_naming_the_missing_number(tmp_path):
    where = folder(tmp_path, "001_a.sql", "003_c.sql")
    with pytest.raises(RuntimeError, match="no step 002"):
        stepsIn(where, "sqlite", "test")


def test_a_dialect_missing_its_own_file_is_a_gap(tmp_path):
    where = folder(tmp_path, "001_a.sql", "002_b.postgres.sql", "003_c.sql")
    assert [s.version for s in stepsIn(where, "postgres", "test")] == [1, 2, 3]
    with pytest.raises(RuntimeError, match="for sqlite are not numbered.*no step 002"):
        stepsIn(where, "sqlite", "test")


@pytest.mark.parametrize("name", ["17_short.sql", "017-dash.sql", "017_x.postgresql.sql"])
def test_a_misnamed_file_is_refused(tmp_path, name):
    where = folder(tmp_path, "001_a.sql", name)
    with pytest.raises(RuntimeError, match=re.escape(name)):
        stepsIn(where, "sqlite", "test")


def test_an_unknown_dialect_is_refused(tmp_path):
    with pytest.raises(RuntimeError, match="no schema dialect 'mysql'"):
        stepsIn(folder(tmp_path, "001_a.sql"), "mysql", "test")


def test_a_function_body_between_dollar_quotes_stays_one_statement():
    from smtpeter.runtime import Step

    step = Step(
        1,
        "f",
        "-- a comment; with a semicolon\n"
        "CREATE TABLE t (x INTEGER);\n"
        "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n    DELETE FROM t;\n    RETURN NULL;\nEND\n$$;\n"
        "SELECT 1;\n",
    )
    assert step.statements() == [
        "CREATE TABLE t (x INTEGER)",
        "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n    DELETE FROM t;\n    RETURN NULL;\nEND\n$$",
        "SELECT 1",
    ]
