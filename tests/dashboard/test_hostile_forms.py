"""
Security regressions of the dashboard's forms: where a log-in may send the
browser (never to another site), and where form fields come from (the
body, never the query string).
"""

from __future__ import annotations

import io

import pytest

from smtpeter.dashboard._pages import arg
from smtpeter.dashboard._routes import formFields, sameSitePath

ELSEWHERE = [
    "",
    "evil.example",
    "//evil.example",
    "///evil.example/",
    "//evil.example/%2F..",
    "/\\evil.example",
    "/\\/evil.example",
    "\\/evil.example",
    "\\\\evil.example",
    "/\t/evil.example/",  # the issue's /%09/evil.example/
    "/\n/evil.example",
    "/\r/evil.example",
    "/\x00/evil.example",
    "/\x0b/evil.example",
    "/\x7f/evil.example",
    "/ /evil.example",
    " /evil.example",
    "/evil.example ",
    "\t//evil.example",
    "/\u00a0/evil.example",
    "/\u2028/evil.example",
    "/\u3000/evil.example",
    "/\uff0f\uff0fevil.example",  # fullwidth solidus
    "/\u200b/evil.example",
    "http://evil.example/",
    "https:evil.example",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    "data:text/html,hi",
    "@evil.example",
    ".evil.example",
    "?next=//evil.example",
    "#/evil",
]
HERE = [
    "/",
    "/activity",
    "/activity?status=bounced&tag=spring",
    "/messages/0123456789ABCDEF0123",
    "/logins/app%20one",
    "/%09/evil.example/",  # a percent sign is a path's, not a tab
    "/activity?q=a%2F%2Fb#top",
    "/.//evil.example",  # the same host's path //evil.example
]


@pytest.mark.parametrize("next", ELSEWHERE)
def test_a_log_in_never_sends_the_browser_elsewhere(next):
    assert sameSitePath(next) == "/"


@pytest.mark.parametrize("next", HERE)
def test_a_path_on_this_site_is_kept(next):
    assert sameSitePath(next) == next


class FormRequest:
    def __init__(self, body: bytes, contentType: bytes | None) -> None:
        self.content = io.BytesIO(body)
        self.contentType = contentType

    def getHeader(self, name: bytes):
        assert name == b"content-type"
        return self.contentType


def test_form_fields_come_from_the_body_only():
    form = b"csrf=T&name=x&features=a&features=b&empty="
    fields = formFields(FormRequest(form, b"application/x-www-form-urlencoded; charset=UTF-8"))
    assert fields == {
        b"csrf": [b"T"],
        b"name": [b"x"],
        b"features": [b"a", b"b"],
        b"empty": [b""],
    }
    # Read again by whoever reads the body after.
    request = FormRequest(form, b"Application/X-WWW-Form-Urlencoded")
    assert formFields(request) == fields and request.content.read() == form
    # Anything but a form is no fields (a query string is never looked at).
    assert formFields(FormRequest(b"", b"application/x-www-form-urlencoded")) == {}
    assert formFields(FormRequest(form, None)) == {}
    assert formFields(FormRequest(form, b"text/plain")) == {}
    assert formFields(FormRequest(b'{"csrf": "T"}', b"application/json")) == {}


def test_non_ascii_and_invalid_utf8_fields_are_read_never_a_500():
    # urllib's parse_qs, given bytes, re-encoded every value as ASCII: any
    # non-ASCII value (%C3%A9, %ff, a raw byte) was a 500 on every form.
    kind = b"application/x-www-form-urlencoded"
    body = b"name=caf%C3%A9&url=%ff%fe&domain=%ED%A0%80&raw=\xc3\xa9\xff&p=a+b%2B"
    fields = formFields(FormRequest(body, kind))
    assert fields == {
        b"name": ["café".encode()],
        b"url": [b"\xff\xfe"],
        b"domain": [b"\xed\xa0\x80"],
        b"raw": [b"\xc3\xa9\xff"],
        b"p": [b"a b+"],
    }
    request = FormRequest(body, kind)
    request.args = fields
    assert arg(request, "name") == "café" and arg(request, "url") == "\ufffd\ufffd"
    # What a lone surrogate's UTF-8 becomes is text SQLite can store.
    assert arg(request, "domain").encode("utf-8")
