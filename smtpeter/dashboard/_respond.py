"""
How the dashboard answers a browser: the headers every answer carries
(no framing, no inline script, never cached), a page, a redirect, a 405,
a cookie, and L{Refused} (a page refused, with the code and words to say).
"""

from __future__ import annotations

from collections.abc import Sequence

from twisted.web.iweb import IRequest
from twisted.web.server import Request

from ..web import isSecure
from ._html import document, tags

HEADERS = {
    b"content-security-policy": b"default-src 'none'; style-src 'self'; img-src 'self' data:;"
    b" frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    b"x-frame-options": b"DENY",
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"same-origin",
    b"cache-control": b"no-store",
}
NOTICE_COOKIE = b"smtpeter_notice"


class Refused(Exception):
    """A page refused: answered with C{code}, under C{title}, saying C{text}."""

    def __init__(self, code: int, title: str, text: str) -> None:
        super().__init__(text)
        self.code, self.title, self.text = code, title, text


def answer(
    request: IRequest, code: int, body: bytes, contentType: bytes = b"text/html; charset=utf-8"
) -> None:
    """Answer with C{body} (its headers only, to a HEAD)."""
    request.setResponseCode(code)
    request.setHeader(b"content-type", contentType)
    request.setHeader(b"content-length", b"%d" % len(body))
    if request.method != b"HEAD":
        request.write(body)


def notAllowed(request: IRequest, allowed: Sequence[str]) -> None:
    """A 405 that says which methods the page takes."""
    request.setHeader(b"allow", ", ".join(allowed).encode())
    answer(
        request,
        405,
        document("Method not allowed", tags.p(f"This page takes {' and '.join(allowed)}.")),
    )


def redirect(request: IRequest, location: str) -> None:
    """Send the browser to C{location} (303: a POST's result is fetched with GET)."""
    request.setResponseCode(303)
    request.setHeader(b"location", location.encode())
    request.setHeader(b"content-length", b"0")


def setCookie(request: Request, name: bytes, value: str, maxAge: int | None = None) -> None:
    """A cookie for this site only, out of scripts' reach (C{maxAge} 0 deletes it)."""
    request.addCookie(
        name,
        value.encode(),
        path=b"/",
        httpOnly=True,
        secure=isSecure(request),  # (behind a trusted proxy: as it says)
        sameSite="strict",
        max_age=None if maxAge is None else str(maxAge).encode(),
    )
