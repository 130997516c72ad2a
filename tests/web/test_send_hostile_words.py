"""
POST /v1/send against header injection that the plain CR/LF check misses:
encoded words (RFC 2047) that decode to line breaks, which Python's email
package (before 3.11.10) folds back into the header as real line breaks,
and the other characters str.splitlines takes for line ends (U+2028,
U+2029, U+0085, VT, FF, FS, GS, RS) or that no header field holds (C0
controls, DEL). Each is a 400 naming its field, never a 500, and nothing
is queued.
"""

from __future__ import annotations

import pytest

from .conftest import SendingSite

SIMPLE = {"from": "Shop <news@example.com>", "to": "Ann <ann@example.org>", "text": "hi"}
#: Encoded words that decode to a line break and a header field of their own.
WORDS = [
    "=?utf-8?q?a=0D=0ABcc:_evil@example.net?=",
    "=?utf-8?b?YQ0KQmNjOiBldmlsQGV4YW1wbGUubmV0?=",
    "Hi =?utf-8?q?=0A=0AX-Smtpeter-TrackClicks:_false?=",
    "=?utf-8?q?a=E2=80=A8Bcc:_evil@example.net?=",
]
#: Line ends to str.splitlines, and controls, as plain text.
BREAKS = ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x01", "\x7f"]


def _variants(text: str) -> list[tuple[dict, str]]:
    return [
        ({**SIMPLE, "subject": text}, "subject"),
        ({**SIMPLE, "attachments": [{"name": text, "data": "aGk="}]}, "attachments"),
        ({**SIMPLE, "from": f'"{text}" <news@example.com>'}, "from"),
        ({**SIMPLE, "to": f'"{text}" <ann@example.org>'}, "to"),
        ({**SIMPLE, "extra": {"X-Campaign": text}}, "extra"),
    ]


@pytest.mark.parametrize(
    "body, field",
    [v for word in WORDS for v in _variants(word)[:2]]
    + [v for c in BREAKS for v in _variants(f"a{c}Bcc: evil@example.net")],
)
def test_hidden_line_breaks_are_refused_naming_the_field(body, field):
    gw = SendingSite()
    answer = gw.post(body, code=400)
    assert answer["parameter"] == field, answer
    assert gw.queue.queued == []


@pytest.mark.parametrize("subject", ["=?utf-8?q?Caf=C3=A9?=", "Sale =?iso-8859-1?q?=E9t=E9?="])
def test_encoded_words_without_breaks_still_go(gw, subject):
    gw.post({**SIMPLE, "subject": subject})
    _, _, message = gw.message()
    assert "\n" not in str(message["subject"]) and "Bcc" not in message
    assert [name.lower() for name in message.keys()].count("subject") == 1


@pytest.mark.parametrize(
    "mime",
    [
        "From: a@example.com\r\n\r\nhi\r.\rMAIL FROM:<ceo@bank.example>\r\n",
        "From: a@example.com\rBcc: evil@example.net\r\n\r\nhi\r\n",
        "From: a@example.com\n\nhi\n.\rRCPT TO:<x@example.net>\r",
    ],
)
def test_mime_line_ends_are_normalised_as_smtp_data_is(mime):
    """A bare CR (SMTP smuggling's <CR>.<CR>) never reaches the queue, as over SMTP."""
    for content_type, body, path in (
        ("application/json", {"mime": mime, "recipient": "ann@example.org"}, "/v1/send"),
        ("message/rfc822", None, "/v1/send?recipient=ann@example.org"),
    ):
        gw = SendingSite()
        raw = mime.encode() if body is None else None
        gw.post(body, raw=raw, path=path, headers={"Content-Type": content_type})
        [(_, _, content)] = gw.queue.queued
        assert content.count(b"\r") == content.count(b"\r\n"), content
        assert content.count(b"\n") == content.count(b"\r\n"), content


@pytest.mark.parametrize(
    "orcpt",
    [
        "rfc822\r\nRSET\r\nMAIL FROM:<ceo@bank.example>\r\nX-;ann@example.org",
        "rfc822 NOTIFY=NEVER;ann@example.org",
        ";ann@example.org",
        "rfc\u2028822;ann@example.org",
        "rfc822+;ann@example.org",
    ],
)
def test_an_orcpt_type_is_an_address_type(gw, orcpt):
    """Its type goes into the next hop's RCPT command as it is: no room for another command."""
    answer = gw.post({**SIMPLE, "dsn": {"orcpt": orcpt}}, code=400)
    assert answer["parameter"] == "dsn" and "orcpt" in answer["error"]
    assert gw.queue.queued == []


@pytest.mark.parametrize(
    "orcpt", ["rfc822;ann@example.org", "UTF-8;ann@example.org", "x400;a@b.org"]
)
def test_an_orcpt_of_a_registered_type_goes(gw, orcpt):
    gw.post({**SIMPLE, "dsn": {"orcpt": orcpt}})
    [(envelope, _, _)] = gw.queue.queued
    assert envelope.recipients[0].orcpt == orcpt
