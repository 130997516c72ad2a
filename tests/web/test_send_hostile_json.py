"""
POST /v1/send's JSON against ambiguity: a key given twice in one object
(RFC 8259: names SHOULD be unique; parsers differ on which one wins, so a
proxy that checks the first and the gateway that uses the last disagree)
is a 400 naming the key, at the top and inside fields; nothing is queued.
"""

from __future__ import annotations

import pytest

from .conftest import SendingSite


@pytest.mark.parametrize(
    "raw, name",
    [
        (
            b'{"from": "a@example.com", "from": "b@example.com", "to": "ann@example.org",'
            b' "text": "x"}',
            "from",
        ),
        (
            b'{"from": "a@example.com", "recipient": "x@example.org",'
            b' "recipient": "y@example.org", "text": "x"}',
            "recipient",
        ),
        (
            b'{"from": "a@example.com", "to": "ann@example.org", "text": "x",'
            b' "extra": {"X-A": "1", "X-A": "2"}}',
            "X-A",
        ),
    ],
)
def test_a_key_given_twice_is_refused(raw, name):
    gw = SendingSite()
    answer = gw.post(None, raw=raw, code=400)
    assert answer["parameter"] == name and "twice" in answer["error"]
    assert gw.queue.queued == []


def test_from_as_an_empty_list_is_a_400(gw: SendingSite):
    answer = gw.post({"from": [], "to": "ann@example.org", "text": "x"}, code=400)
    assert answer["parameter"] == "from"
    assert gw.queue.queued == []
