"""The one queue id grammar."""

from __future__ import annotations

import re

import pytest

from smtpeter.message import QUEUE_ID, QUEUE_ID_PATTERN, QUEUE_ID_TEXT, parseQueueId
from smtpeter.queue._spool import newQueueId


def test_a_new_queue_id_is_one():
    qid = newQueueId(lambda: 1_700_000_000.123)
    assert QUEUE_ID.fullmatch(qid) and qid.startswith(f"{1_700_000_000_123:012X}")
    assert parseQueueId(qid) == qid


def test_a_reader_may_write_it_in_any_case():
    assert parseQueueId("0190f3a1b2c3d4e5f6a7") == "0190F3A1B2C3D4E5F6A7"
    assert re.fullmatch(QUEUE_ID_PATTERN, "0190f3a1b2c3D4E5F6A7")


@pytest.mark.parametrize(
    "text",
    ["", "0190F3A1B2C3D4E5F6A", "0190F3A1B2C3D4E5F6A70", "0190F3A1B2C3D4E5F6AG", "../etc/passwd"],
)
def test_anything_else_is_refused_saying_what_an_id_is(text):
    with pytest.raises(ValueError, match=re.escape(QUEUE_ID_TEXT)):
        parseQueueId(text)
    assert not QUEUE_ID.fullmatch(text)


def test_the_canonical_form_is_upper_case():
    assert not QUEUE_ID.fullmatch("0190f3a1b2c3d4e5f6a7")
