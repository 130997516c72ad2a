"""
C{trackclicks} and C{preventscam}.

Every http(s) link in HTML (C{<a href>}, C{<area href>}) and every http(s)
URL in text/plain parts becomes C{{public-url}/c/{token}/{host}/{path}}: the
token names the message, the recipient and the link (its index in the
message's recorded link list) and is signed; the host and path after it are
only there for the reader. C{mailto:}, C{tel:}, anchors and other schemes are
left alone, and so is any element carrying C{data-smtpeter-notrack} (the
attribute itself is removed on the way out), and any URL that a redirect
should not carry: one with user information (C{http://user@host/}, a
classic disguise), with control characters (CR, LF, NUL...), without a host,
or over L{MAX_URL} characters.

C{preventscam} (with C{trackclicks}): a link whose visible text is its own
target (a URL or a bare host name; scheme, C{www.}, trailing slash and case
ignored) is left alone, so mail clients do not warn that it goes elsewhere.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

from ._base import Feature
from ._document import NOTRACK

_URL_IN_TEXT = re.compile(r"""https?://[^\s<>"'\x00-\x1f\x7f]+""", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""
_READABLE = re.compile(r"[^A-Za-z0-9._~/-]+")
MAX_READABLE = 60
MAX_URL = 2000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_AUTHORITY = re.compile(r"[^/?#]*")


def isTrackable(url: str) -> bool:
    """May this URL become a tracked link (and may a click token redirect to it)?"""
    scheme = url[:8].lower()
    if scheme.startswith("http://"):
        start = 7
    elif scheme == "https://":
        start = 8
    else:
        return False
    if len(url) > MAX_URL or _CONTROL.search(url):
        return False
    authority = _AUTHORITY.match(url, start)
    assert authority is not None  # [^/?#]* matches anywhere
    netloc = authority.group()
    if netloc.isascii() and "[" not in netloc and "]" not in netloc:
        # What urlsplit would find, without its cost (a mailing has
        # hundreds of links): a host before any port, and no user part.
        return "@" not in netloc and netloc.partition(":")[0] != ""
    try:  # IPv6 literals and non-ASCII hosts: urlsplit's checks
        parts = urlsplit(url)
        return bool(parts.hostname) and "@" not in parts.netloc
    except ValueError:  # an unparseable host or port
        return False


@lru_cache(maxsize=4096)
def readableTail(url: str) -> str:
    """C{/host/path}, reduced to characters safe anywhere, for the reader's eye."""
    parts = urlsplit(url)
    tail = _READABLE.sub("-", (parts.hostname or "") + parts.path.rstrip("/"))
    return "/" + tail[:MAX_READABLE].strip("-/") if tail.strip("-/") else ""


class TrackClicks(Feature):
    name = "trackclicks"
    order = 300
    perRecipient = True

    def prepareHTML(self, document, draft) -> None:
        tree = document.tree
        for element in tree.iter("a", "area"):
            href = (element.get("href") or "").strip()
            if NOTRACK in element.attrib or not isTrackable(href):
                continue
            element.set("href", document.slot(self.name, href))

    def prepareText(self, document, draft) -> None:
        def replace(match: re.Match) -> str:
            url = match.group(0)
            stripped = url.rstrip(_TRAILING)
            # A closing parenthesis belongs to the URL if it opened one inside.
            while (
                stripped != url
                and url[len(stripped)] == ")"
                and stripped.count("(") > stripped.count(")")
            ):
                stripped += ")"
            if not isTrackable(stripped):
                return url
            return document.slot(self.name, stripped) + url[len(stripped) :]

        document.text = _URL_IN_TEXT.sub(replace, document.text)

    def fill(self, slot, copy) -> str:
        token = copy.environment.signer.click(copy.qid, copy.index, copy.links[slot.value])
        return f"{copy.publicUrl}/c/{token}{readableTail(slot.value)}"


def _comparable(text: str) -> str:
    text = text.strip().lower()
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text)
    text = re.sub(r"^www\.", "", text)
    return text.rstrip("/")


class PreventScam(Feature):
    name = "preventscam"
    order = 290

    def active(self, options) -> bool:
        return super().active(options) and TrackClicks().active(options)

    def prepareHTML(self, document, draft) -> None:
        for element in document.tree.iter("a"):
            href = (element.get("href") or "").strip()
            # Most links hold only text: no need for text_content's XPath.
            visible = (element.text_content() if len(element) else element.text or "").strip()
            if visible and " " not in visible and isTrackable(href):
                if _comparable(visible) == _comparable(href):
                    element.set(NOTRACK, "")
