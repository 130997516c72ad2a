"""The suppression list's checks and its all-or-nothing, batched import."""

from __future__ import annotations

import math
import sqlite3

import pytest

from smtpeter.store import (
    Invalid,
    PostgreSQL,
    StoreError,
    openDatabase,
    suppressionExpiry,
    suppressionReason,
)
from smtpeter.store._suppressions import ImportFailed, SuppressionStore


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """The store on SQLite, and on PostgreSQL (the tests' own server)."""
    if request.param == "postgresql":
        db = openDatabase(PostgreSQL(request.getfixturevalue("postgresDatabase")))
    else:
        db = openDatabase(tmp_path / "smtpeter.sqlite")
    yield SuppressionStore(db)
    db.close()


def test_days_must_be_a_number_a_date_can_hold():
    assert suppressionExpiry(100.0, 0) is None
    assert suppressionExpiry(100.0, 1) == 100.0 + 86400
    assert suppressionExpiry(100.0, 0.5) == 100.0 + 43200
    for days in (-1, 1e308, math.inf, math.nan, 2**70, 10**4000, True, "1", None, 36501):
        with pytest.raises(Invalid) as caught:
            suppressionExpiry(100.0, days)
        assert caught.value.field == "days"
    with pytest.raises(Invalid):
        suppressionReason("")
    assert suppressionReason(" why ") == "why"


def test_an_import_is_all_or_nothing_and_names_the_line(store):
    store.add("kept@example.com", "before", 1.0, None)
    entries = [(1, "a@example.com", "r"), (2, "b@example.com", "r"), (3, "not an address", "r")]
    with pytest.raises(StoreError, match="line 3: .*nothing was imported"):
        store.importEntries(entries, 2.0, None)
    assert [e.address for e in store.list(3.0)] == ["kept@example.com"]

    def failing():
        yield 1, "a@example.com", "r"
        raise StoreError("line 2 is longer than 1000 bytes; nothing was imported")

    with pytest.raises(StoreError, match="line 2"):
        store.importEntries(failing(), 2.0, None)
    assert [e.address for e in store.list(3.0)] == ["kept@example.com"]
    # The staging table is gone either way: a second import on the connection works.
    assert store.importEntries([(1, "a@example.com", "r")], 2.0, None) == 1


def test_an_address_with_a_control_character_is_no_entry(store):
    # An escape sequence in one reached the terminal of whoever listed them.
    for address in ("a\x1b[2J@example.com", "a\u202e@example.com"):
        with pytest.raises(StoreError, match="control character"):
            store.add(address, "r", 1.0, None)
        with pytest.raises(StoreError, match="line 2: .*control character"):
            store.importEntries([(1, "a@example.com", "r"), (2, address, "r")], 2.0, None)
    assert store.list(3.0) == []


def test_an_import_moves_in_short_batches_and_a_later_line_wins(store):
    pauses = []
    entries = [(n, f"u{n % 7}@example.com", f"line {n}") for n in range(1, 21)]
    # 20 lines, 7 entries: the count is of entries, an address in one scope.
    assert store.importEntries(entries, 5.0, 99.0, sleep=pauses.append, batch=3) == 7
    assert len(pauses) == 6  # 7 batches, a pause between each
    found = {e.address: e.reason for e in store.list(6.0)}
    assert found == {f"u{n % 7}@example.com": f"line {n}" for n in range(14, 21)}


def test_an_address_twice_in_one_batch_takes_its_later_line(store):
    entries = [
        (1, "twice@example.com", "first", "app"),
        (2, "other@example.com", "plain"),
        (3, "twice@example.com", "second", "app"),
        (4, "twice@example.com", "gateway-wide"),
    ]
    assert store.importEntries(entries, 5.0, 99.0, sleep=lambda _: None) == 3
    found = {(e.address, e.login): e.reason for e in store.list(6.0)}
    assert found == {
        ("twice@example.com", "app"): "second",
        ("twice@example.com", None): "gateway-wide",
        ("other@example.com", None): "plain",
    }


def test_an_imported_row_may_keep_its_own_expiry(store):
    entries = [
        (1, "r@example.com", "unsubscribed", "app", None),
        (2, "b@example.com", "hard bounce", "", 50.0),
        (3, "p@example.com", "plain"),
        (4, "r@example.com", "again", "app"),
    ]
    assert store.importEntries(entries, 5.0, 99.0, sleep=lambda _: None, batch=2) == 3
    found = {(e.address, e.login): e.expires for e in store.list(6.0)}
    assert found == {
        ("r@example.com", "app"): 99.0,  # the later line, without its own: the default
        ("b@example.com", None): 50.0,
        ("p@example.com", None): 99.0,
    }
    assert store.importEntries(entries[:1], 7.0, 99.0) == 1
    assert store.scoped("r@example.com", "app", 8.0).expires is None


def test_a_batch_that_fails_says_exactly_what_was_imported(tmp_path):
    path = tmp_path / "smtpeter.sqlite"
    db = openDatabase(path)
    store = SuppressionStore(db)
    other = sqlite3.connect(str(path), timeout=0)
    db.execute("PRAGMA busy_timeout = 0")

    def lockAfterFirst(seconds):
        other.execute("BEGIN IMMEDIATE")  # another writer that never lets go

    entries = [(n, f"u{n}@example.com", "r") for n in range(1, 11)]
    with pytest.raises(ImportFailed) as caught:
        store.importEntries(entries, 5.0, None, sleep=lockAfterFirst, batch=4)
    other.rollback()
    assert caught.value.imported == 4
    assert "imported 4 of 10 entries (up to and including line 4)" in str(caught.value)
    assert len(store.list(6.0)) == 4
