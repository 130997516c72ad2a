"""
POST /v1/send against bodies that are small but cost a worker much: parts
whose work grows faster than their size (the email package's folding of
a long subject, a MIME part per attachment, the tags checked one header at
a time) are bounded before the work starts, and an address list the
email package's parser cannot take (groups in groups) is a 400, not a 500.
"""

from __future__ import annotations

import time

from .conftest import SendingSite

SIMPLE = {"from": "Shop <news@example.com>", "to": "Ann <ann@example.org>", "text": "hi"}


def _refused(body: dict, field: str, says: str) -> float:
    """The CPU seconds the 400 naming C{field} took."""
    gw = SendingSite(maxSize=10 * 1024 * 1024)
    started = time.process_time()
    answer = gw.post(body, code=400)
    spent = time.process_time() - started
    assert answer["parameter"] == field and says in answer["error"], answer
    assert gw.queue.queued == []
    return spent


def test_attachments_are_counted_before_they_are_made():
    attachments = [{"name": "a.txt", "data": ""}] * 1000
    _refused({**SIMPLE, "attachments": attachments}, "attachments", "at most 100 attachments")


def test_a_long_subject_is_refused_before_it_is_folded():
    spent = _refused({**SIMPLE, "subject": "word " * 100_000}, "subject", "at most 10000")
    assert spent < 1.0


def test_tags_are_counted_before_they_are_read():
    spent = _refused({**SIMPLE, "tags": [f"t{n}" for n in range(20_000)]}, "tags", "at most 20")
    assert spent < 1.0


def test_groups_in_groups_are_a_400():
    for to in ("g: h: a@example.org;;", "g: g: g: a@example.org;;;"):
        _refused({**SIMPLE, "to": to}, "to", "not an address list")
