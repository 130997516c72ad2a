"""
C{/u/{token}}: one-click unsubscribe (RFC 8058) and its page.

C{POST /u/TOKEN} unsubscribes the recipient the token names from the
login's mail: an C{unsubscribe} event, and a suppression of that address
for that login, once (posting again answers the same). Mailbox providers
post C{List-Unsubscribe=One-Click} from their servers, with no cookie and
no CSRF token, so none is asked for: the token, sealed by this gateway,
is the authority. The answer is plain text to them, and a page to a
person who pressed the button of C{GET /u/TOKEN}'s page. A GET alone
changes nothing: link scanners and previews follow links.

A token this gateway did not make is 404, whatever the method. A body
over L{MAX_BODY} bytes is refused before it is read (413); the site lets
only these POSTs and the API's take a body.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from ..features import TokenSigner, UnsubscribeId
from ..store import StoreError
from ._proxies import clientAddress
from ._resources import AsyncLeaf, HTTPError, segment

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime

    from ..store import IEventStore

#: The largest body taken (a one-click POST is 26 bytes; multipart, a few hundred).
MAX_BODY = 4096
#: A one-click POST's field and value (RFC 8058 section 3.1).
ONE_CLICK = ("List-Unsubscribe", "One-Click")
#: Where these pages are: the site lets POSTs to it take a body.
PATH = "/u/"
_MULTIPART_ONE_CLICK = re.compile(
    rb'name="?List-Unsubscribe"?[^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\nOne-Click\r\n', re.I
)
#: No script, no remote anything; the form posts only here.
HEADERS = {
    b"content-security-policy": b"default-src 'none'; style-src 'unsafe-inline';"
    b" form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    b"x-frame-options": b"DENY",
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
    b"cache-control": b"no-store",
}
_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:32em;margin:4em auto;padding:0 1em;"
    "color:#222}button{font:inherit;padding:.5em 1.5em;cursor:pointer}"
)


def _page(title: str, body: str) -> bytes:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{title}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{title}</h1>{body}</body></html>\n"
    ).encode()


ASK = _page(
    "Unsubscribe",
    "<p>Stop receiving this sender's mail at this address?</p>"
    '<form method="post"><input type="hidden" name="confirm" value="yes">'
    '<button type="submit">Unsubscribe</button></form>',
)
DONE = _page(
    "You are unsubscribed",
    "<p>This sender's mail will no longer be sent to this address. You may close this page.</p>",
)


def isOneClick(body: bytes, contentType: bytes) -> bool:
    """Does C{body} say C{List-Unsubscribe=One-Click}, urlencoded or as multipart form data?"""
    if contentType.lower().startswith(b"multipart/"):
        return _MULTIPART_ONE_CLICK.search(body) is not None
    try:
        form = parse_qs(body.decode("ascii"), max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        return False
    return form.get(ONE_CLICK[0]) == [ONE_CLICK[1]]


class Unsubscribe(AsyncLeaf):
    methods = (b"GET", b"HEAD", b"POST")
    notFound = "unknown unsubscribe link"

    def __init__(self, events: IEventStore, signer: TokenSigner, clock: IReactorTime) -> None:
        super().__init__()
        self.events = events
        self.signer = signer
        self.clock = clock

    def allowedMethods(self, request) -> tuple[bytes, ...]:  # type: ignore[override]
        return self.methods if self._read(request) is not None else ()

    def _read(self, request) -> UnsubscribeId | None:
        if len(request.postpath) != 1:
            return None
        return self.signer.readUnsubscribe(segment(request))

    async def handle(self, request):
        found = self._read(request)
        if found is None:  # (allowedMethods said so already)
            raise HTTPError(404, self.notFound)
        for name, value in HEADERS.items():
            request.setHeader(name, value)
        if request.method != b"POST":
            return self._html(request, ASK)
        body = request.content.read(MAX_BODY + 1) if request.content is not None else b""
        if len(body) > MAX_BODY:
            raise HTTPError(413, f"the body is larger than {MAX_BODY} bytes")
        oneClick = isOneClick(body, request.getHeader(b"content-type") or b"")
        record = await self.events.message(found.qid)
        details = {
            "one_click": oneClick,
            "ip": clientAddress(request),
            "user_agent": (request.getHeader(b"user-agent") or b"").decode("latin-1")[:500],
        }
        try:
            await self.events.recordUnsubscribe(
                found.qid,
                found.address,
                found.login,
                record.tags if record is not None else (),
                details,
                self.clock.seconds(),
            )
        except StoreError as e:  # an envelope address the list cannot hold ("a b"@x)
            raise HTTPError(400, f"this address cannot be unsubscribed here: {e}")
        if not oneClick:
            return self._html(request, DONE)
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return b"unsubscribed\n"

    def _html(self, request, page: bytes) -> bytes:
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        request.setHeader(b"content-length", b"%d" % len(page))
        return page
