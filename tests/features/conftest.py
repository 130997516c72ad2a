"""The feature tests' own helpers: a chain over a temporary data directory, a queued message."""

from __future__ import annotations

from pathlib import Path

from smtpeter.features import Chain, Environment, TokenSigner, discover
from smtpeter.queue import Envelope, Options, QueuedMessage, Recipient
from smtpeter.store import openDatabase
from smtpeter.store._domains import DomainKeys, DomainStore
from smtpeter.store._images import ImageStore

from ..conftest import FIXTURES

GOLDEN = FIXTURES / "golden"
QID = "0190F3A1B2C3D4E5F607"
SECRET = b"s" * 32
PUBLIC = "https://click.example.net"


def makeChain(tmp: Path, features=None, keys=None) -> Chain:
    environment = Environment(
        TokenSigner(SECRET), PUBLIC, "bounces.example.net", ImageStore(tmp / "images"), keys
    )
    return Chain(discover() if features is None else features, environment)


def message(
    content: bytes,
    features=(),
    recipients=("first@example.org", "second@example.org"),
    sender="sender@example.com",
    extra=None,
    qid=QID,
) -> QueuedMessage:
    return QueuedMessage(
        qid,
        Envelope(sender, tuple(Recipient(r) for r in recipients)),
        Options(frozenset(features), (), "test", extra or {}),
        0.0,
        content,
    )


def dkimSetup(tmp_path: Path, domain: str = "example.com"):
    """DKIM keys for C{domain}, its key, and a C{dnsfunc} for dkimpy that knows its record."""
    store = DomainStore(openDatabase(tmp_path / "db.sqlite"))
    key = store.add(domain)
    records = {f"{key.name}.".encode(): key.txt.encode()}
    return DomainKeys(store), key, lambda name, timeout=5: records.get(name)
