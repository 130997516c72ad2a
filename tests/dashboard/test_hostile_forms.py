"""
Security regressions of the dashboard's forms: where a log-in may send the
browser (never to another site), and where form fields come from (the
body, never the query string).
"""

from __future__ import annotations

import io

import pytest

from smtpeter.dashboard._site import formFields, sameSitePath

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
