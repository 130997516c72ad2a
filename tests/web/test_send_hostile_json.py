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


@pytest.mark.parametrize(
    "content_type, raw",
    [
        ("multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data; name="a"\r\n'),
        ("application/x-www-form-urlencoded", b"from=a%40example.com&to=b%40example.org"),
        ("text/csv", b"from,to\r\na@example.com,b@example.org\r\n"),
    ],
)
def test_a_body_of_another_type_is_415_naming_the_types_taken(content_type, raw):
    gw = SendingSite()
    answer = gw.post(None, raw=raw, code=415, headers={"Content-Type": content_type})
    assert answer["parameter"] == "Content-Type"
    assert "application/json" in answer["error"] and "message/rfc822" in answer["error"]


def test_json_under_another_type_still_goes(gw: SendingSite):
    """curl -d sends application/x-www-form-urlencoded; what it sends is JSON all the same."""
    raw = b'{"from": "a@example.com", "to": "b@example.org", "text": "x"}'
    gw.post(None, raw=raw, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert len(gw.queue.queued) == 1


@pytest.mark.parametrize(
    "given, header",
    [
        ({"trackclicks": False}, b"X-Smtpeter-TrackClicks: true"),
        ({"tags": ["a"]}, b"x-smtpeter-tags: b"),
        ({"extra": {"X-Campaign": "spring"}}, b"X-Campaign: autumn"),
        ({"unsubscribe": "https://example.com/u"}, b"List-Unsubscribe: <https://example.com/v>"),
    ],
)
def test_a_field_the_mime_says_otherwise_is_a_400(given, header):
    """Two answers to one question: which one the gateway took would be a guess."""
    gw = SendingSite()
    mime = b"From: a@example.com\r\n" + header + b"\r\n\r\nhi\r\n"
    body = {"mime": mime.decode(), "recipient": "b@example.org", **given}
    answer = gw.post(body, code=400)
    assert answer["parameter"] == next(iter(given)) and "mime" in answer["error"]
    assert gw.queue.queued == []


def test_empty_lists_of_addresses_add_no_empty_fields(gw: SendingSite):
    body = {"from": "a@example.com", "to": [], "cc": [], "replyto": [], "text": "x"}
    gw.post({**body, "recipient": "b@example.org"})
    _, _, message = gw.message()
    assert "To" not in message and "Cc" not in message and "Reply-To" not in message
