"""Helpers shared by these tests."""

from __future__ import annotations

from smtpeter.message import Recipient
from smtpeter.queue import Envelope, Options, QueuedMessage

QID = "0123456789ABCDEF0123"


def message(qid=QID, tags=("spring",), recipients=("a@x.test", "b@x.test")):
    envelope = Envelope(
        "news@shop.test",
        tuple(Recipient(r, ("NEVER",) if r.startswith("b") else ()) for r in recipients),
    )
    options = Options(frozenset({"trackclicks"}), tags, "shop")
    return QueuedMessage(qid, envelope, options, 1000.0, b"", False)
