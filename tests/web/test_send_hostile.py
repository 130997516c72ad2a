"""
POST /v1/send against an attacker: header injection in any field, address
tricks (source routes, literals to internal hosts, non-ASCII), a door to
internal services (attachments by URL), bodies that cost memory before
anyone is known, and recipient floods. Each is refused with a 400 naming
the field (or before the body is read), and nothing is queued.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.defer import Deferred
from twisted.logger import formatEvent, globalLogPublisher

from smtpeter.web._sendrequest import FIELDS

from .conftest import SendingSite, rawRequest

SIMPLE = {"from": "Shop <news@example.com>", "to": "Ann <ann@example.org>", "text": "hi"}
EVIL = "\r\nBcc: evil@example.net"


@pytest.mark.parametrize(
    "body, field",
    [
        ({**SIMPLE, "from": f"a@example.com{EVIL}"}, "from"),
        ({**SIMPLE, "from": f"Name{EVIL} <a@example.com>"}, "from"),
        ({**SIMPLE, "to": f"ann@example.org{EVIL}"}, "to"),
        ({**SIMPLE, "cc": ["c@example.org\nX: y"]}, "cc"),
        ({**SIMPLE, "replyto": "r@example.com\rX: y"}, "replyto"),
        ({**SIMPLE, "subject": f"hi{EVIL}"}, "subject"),
        ({**SIMPLE, "subject": "hi\x00there"}, "subject"),
        ({**SIMPLE, "extra": {"Bcc": "evil@example.net"}}, "extra"),
        ({**SIMPLE, "extra": {"Received": "from nowhere"}}, "extra"),
        ({**SIMPLE, "extra": {"X-Ok": f"a{EVIL}"}}, "extra"),
        ({**SIMPLE, "extra": {f"X-Ok{EVIL}": "a"}}, "extra"),
        ({**SIMPLE, "extra": {"X-Sp ace": "a"}}, "extra"),
        ({**SIMPLE, "tags": [f"a{EVIL}"]}, "tags"),
        ({**SIMPLE, "unsubscribe": f"https://example.com/u{EVIL}"}, "unsubscribe"),
        (
            {**SIMPLE, "unsubscribe": "https://example.com/u>, <https://evil.example/"},
            "unsubscribe",
        ),
        (
            {**SIMPLE, "unsubscribe": {"oneclick": True, "email": f"u@example.com{EVIL}"}},
            "unsubscribe",
        ),
        ({**SIMPLE, "attachments": [{"name": f"a{EVIL}", "data": ""}]}, "attachments"),
        (
            {**SIMPLE, "attachments": [{"name": "a", "type": f"text/plain{EVIL}", "data": ""}]},
            "attachments",
        ),
        ({**SIMPLE, "dsn": {"envid": f"x{EVIL}"}}, "dsn"),
        ({**SIMPLE, "maxdelivertime": f"2030-01-01 00:00:00{EVIL}"}, "maxdelivertime"),
    ],
)
def test_header_injection_is_refused_naming_the_field(gw, body, field):
    assert gw.post(body, code=400)["parameter"] == field
    assert gw.queue.queued == []


@pytest.mark.parametrize(
    "recipient",
    [
        "root@[127.0.0.1]",
        "x@[169.254.169.254]",
        "x@[10.0.0.1]",
        "x@[IPv6:::1]",
        "x@[999.1.1.1]",
        "@relay.example:victim@example.org",
        "victim%example.org@relay.example@x",
        "host!victim",
        "vïctim@example.org",
        "victim@example.org>",
        "<victim@example.org>",
        "a@b@example.org",
        "",
    ],
)
def test_address_tricks_are_refused_as_rcpt_refuses_them(gw, recipient):
    assert gw.post({**SIMPLE, "recipient": recipient}, code=400)["parameter"] in (
        "recipient",
        "recipients",
    )
    assert gw.queue.queued == []


def test_attachments_by_url_are_never_fetched(gw):
    for url in (
        "http://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
        "http://127.0.0.1/",
    ):
        answer = gw.post({**SIMPLE, "attachments": [{"name": "a", "url": url}]}, code=400)
        assert answer["parameter"] == "attachments" and "internal services" in answer["error"]
    assert gw.queue.queued == []


def test_recipient_floods_stop_at_max_recipients(gw):
    many = [f"r{n}@example.org" for n in range(10_000)]
    answer = gw.post({**SIMPLE, "recipients": many}, code=400)
    assert answer["parameter"] == "recipients" and "at most 5" in answer["error"]
    answer = gw.post({**SIMPLE, "to": many[:6]}, code=400)
    assert answer["parameter"] == "recipients" and "at most 5" in answer["error"]
    for field in ("to", "cc", "replyto"):  # a header field: 500 addresses at most, or 32 KiB
        answer = gw.post({**SIMPLE, field: ", ".join(many)}, code=400)
        assert answer["parameter"] == field and "at most 500 addresses" in answer["error"]
        answer = gw.post({**SIMPLE, field: many}, code=400)
        assert answer["parameter"] == field and "at most 500 addresses" in answer["error"]
        answer = gw.post({**SIMPLE, field: "x" * 40_000 + "@example.org"}, code=400)
        assert answer["parameter"] == field and "32 KiB" in answer["error"]
    assert gw.queue.queued == []


def test_extra_adds_100_fields_at_most(gw):
    many = {f"X-N{n}": "v" for n in range(101)}
    assert "at most 100" in gw.post({**SIMPLE, "extra": many}, code=400)["error"]


def test_json_that_costs_memory_or_lies_is_refused(gw):
    deep = b'{"extra": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert "nests" in gw.post(None, code=400, raw=deep)["error"]
    assert "NaN" in gw.post(None, code=400, raw=b'{"tags": NaN}')["error"]
    assert "surrogate" in gw.post(None, code=400, raw=b'{"text": "\\ud800"}')["error"]
    assert gw.queue.queued == []


def test_nothing_is_read_before_the_token_is_known():
    site = SendingSite()
    for target, headers in (
        ("/v1/send", ""),
        ("/v1/send?access_token=spt_unknown", ""),
        ("/v1/send", "Authorization: Basic YTpi\r\n"),
        ("/v1/send?access_token=", "Authorization: Bearer spt_unknown\r\n"),
    ):
        transport = rawRequest(
            site.site,
            f"POST {target} HTTP/1.1\r\nHost: gw\r\n{headers}Content-Length: 100000\r\n\r\n".encode(),
        )
        assert transport.value().startswith(b"HTTP/1.1 401"), (target, transport.value())
        assert transport.disconnecting
    assert site.queue.queued == []


def test_a_token_in_the_query_never_reaches_the_log(gw):
    logged: list[dict] = []
    gw.queue.gate = Deferred()
    gw.queue.gate.errback(RuntimeError("the queue broke"))
    globalLogPublisher.addObserver(logged.append)
    try:
        answer = gw.post(SIMPLE, code=500, token="", path=f"/v1/send?access_token={gw.token}")
    finally:
        globalLogPublisher.removeObserver(logged.append)
    assert "internal error" in answer["error"]
    text = " ".join(formatEvent(e) for e in logged)
    assert "/v1/send?access_token=..." in text and gw.token not in text


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELD_NAMES = st.sampled_from(FIELDS + ("url", "name", "data"))
VALUES = JSON | st.sampled_from(
    [
        "a@example.com",
        "Ann <ann@example.org>",
        "x@[127.0.0.1]",
        "2030-01-01 00:00:00",
        "aGk=",
        "https://x.example/u",
    ]
)


@settings(max_examples=300, deadline=None)
@given(body=st.dictionaries(FIELD_NAMES, VALUES, max_size=8))
def test_no_body_is_answered_with_a_500(body):
    gw = SendingSite()  # (each its own: the in-memory connections are never closed)
    answer = gw.post(body, code=None)
    assert gw.response.code in (202, 400, 403), (body, answer)
    if gw.response.code == 400:
        assert answer["error"] and (
            answer.get("parameter") in (*FIELDS, None) or answer["parameter"]
        )
