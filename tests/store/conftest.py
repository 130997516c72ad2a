"""Helpers shared by these tests."""

from __future__ import annotations

import pytest

from smtpeter.message import Recipient
from smtpeter.queue import Envelope, Options, QueuedMessage
from smtpeter.store import PostgreSQL

QID = "0123456789ABCDEF0123"


def message(qid=QID, tags=("spring",), recipients=("a@x.test", "b@x.test")):
    envelope = Envelope(
        "news@shop.test",
        tuple(Recipient(r, ("NEVER",) if r.startswith("b") else ()) for r in recipients),
    )
    options = Options(frozenset({"trackclicks"}), tags, "shop")
    return QueuedMessage(qid, envelope, options, 1000.0, b"", False)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    """
    A test's shared database, on each engine in turn: SQLite's file, then
    a PostgreSQL one (the tests' own server); give it to L{openDatabase}.
    """
    if request.param == "postgresql":
        return PostgreSQL(request.getfixturevalue("postgresDatabase"))
    return tmp_path / "db.sqlite"
