"""
A message as people look at it: its headers, its text and HTML parts, its
attachments (name, type, size) and the inline images its HTML refers to by
C{cid:}, read with Python's C{email} package (C{policy.default}).

Everything here is bounded and nothing raises: mail is written by anyone,
and a message this module cannot read is a L{Preview} with a C{problem}
saying so (the page then shows its source). Every text it returns is
proper Unicode (bytes that were not are replaced), safe to escape into a
page. The HTML is returned as the message has it, with C{cid:} references
made C{data:} URLs and links opening in a new tab; keeping it from running
or loading anything is the frame's job (L{framePolicy}), not a sanitizer's.
"""

from __future__ import annotations

import base64
import re
from email import policy
from email.message import Message
from email.parser import BytesParser
from urllib.parse import unquote

from attrs import field, frozen

#: A message larger than this is not parsed (its source and the .eml still are offered).
MAX_PARSE = 25 * 1024 * 1024
#: At most this many leaf parts are read, at most this deep in nested multiparts.
MAX_PARTS, MAX_DEPTH = 200, 20
#: Inline images larger than this, or past this total, are not made C{data:} URLs.
MAX_INLINE, MAX_INLINE_TOTAL = 4 * 1024 * 1024, 12 * 1024 * 1024
#: What the frame's sandbox grants: a link may open a new tab (unsandboxed, a
#: site of its own). Never scripts, forms or the dashboard's origin.
SANDBOX = "allow-popups allow-popups-to-escape-sandbox"
#: At most this many headers are listed, each value up to this many characters.
MAX_HEADERS, MAX_HEADER_VALUE = 500, 8192

_TOKEN = r"[A-Za-z0-9!#$&^_.+-]+"
_TYPE = re.compile(f"{_TOKEN}/{_TOKEN}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HEAD = re.compile(r"<head(\s[^>]*)?>", re.IGNORECASE)
_DOCTYPE = re.compile(r"<!doctype[^>]*>", re.IGNORECASE)
_CID = re.compile(r"""cid:([^"'\s<>()]+)""", re.IGNORECASE)


@frozen
class Part:
    """A leaf part that is not the text or HTML shown: an attachment or an inline image."""

    #: Its number in the message (the dashboard's C{/messages/QID/parts/N}).
    index: int
    name: str
    type: str
    size: int
    inline: bool = False


@frozen
class Preview:
    #: (name, value) pairs, decoded (RFC 2047), in the message's order.
    headers: list[tuple[str, str]] = field(factory=list)
    text: str | None = None
    #: The HTML part, with its C{cid:} images as C{data:} URLs.
    html: str | None = None
    attachments: list[Part] = field(factory=list)
    #: What went wrong or was left out, for a note on the page ("" if nothing).
    problem: str = ""


def parseMessage(content: bytes) -> Message | None:
    """C{content} parsed with C{policy.default}; C{None} if it is too large or unreadable."""
    if len(content) > MAX_PARSE:
        return None
    try:
        return BytesParser(policy=policy.default).parsebytes(content)
    except Exception:
        return None


def preview(content: bytes) -> Preview:
    """What the message page shows of C{content}: never raises."""
    if len(content) > MAX_PARSE:
        return Preview(
            problem=f"This message is over {MAX_PARSE // (1024 * 1024)} MiB: it is not"
            " read here. Download the .eml to read it."
        )
    message = parseMessage(content)
    if message is None:
        return Preview(problem="This message could not be read as MIME: here is its source.")
    try:
        return _preview(message)
    except Exception:
        return Preview(problem="This message could not be read as MIME: here is its source.")


def _preview(message: Message) -> Preview:
    leaves, cut, nodes = _walk(message)
    problems = []
    if cut:
        problems.append(
            f"Only its first {MAX_PARTS} parts, {MAX_DEPTH} levels deep, are shown here."
        )
    defects = sorted({type(d).__name__ for p in nodes for d in p.defects})
    if defects:
        problems.append("The message is not well-formed MIME (" + ", ".join(defects) + ").")
    text = html = None
    attachments, images = [], {}
    for index, part in enumerate(leaves):
        kind = _type(part)
        attached = part.get_content_disposition() == "attachment"
        if kind == "text/plain" and text is None and not attached:
            text = _text(part)
            continue
        if kind == "text/html" and html is None and not attached:
            html = _text(part)
            continue
        body = _payload(part)
        contentId = _clean(str(part.get("content-id", "") or "")).strip().strip("<>")
        attachments.append(
            Part(index, _name(part, index, kind), kind, len(body), bool(contentId) and not attached)
        )
        if contentId and kind.startswith("image/"):
            images[contentId] = (kind, body)
    if html is not None:
        html = _newTabs(_inline(html, images))
    return Preview(_headers(message), text, html, attachments, " ".join(problems))


def part(content: bytes, index: int) -> tuple[bytes, str, str] | None:
    """Leaf part number C{index} (as L{Part.index}): (its bytes, type, file name), or C{None}."""
    message = parseMessage(content)
    if message is None:
        return None
    try:
        leaves, _, _ = _walk(message)
        if not 0 <= index < len(leaves):
            return None
        found = leaves[index]
        kind = _type(found)
        return _payload(found), kind, _name(found, index, kind)
    except Exception:
        return None


def framePolicy(remoteImages: bool) -> bytes:
    """
    The Content-Security-Policy of the frame that shows a message's HTML:
    no script, no form, nothing fetched but C{data:} images (and, once
    asked, C{https:} images); inline styles kept, as mail is styled so. The
    C{sandbox} directive makes the document sandboxed even when opened
    outside its frame, as the frame's C{sandbox} attribute does (L{SANDBOX}).
    """
    images = "data: https:" if remoteImages else "data:"
    return (
        f"default-src 'none'; img-src {images}; style-src 'unsafe-inline'; font-src data:;"
        " form-action 'none'; frame-ancestors 'self'; base-uri 'none';"
        f" sandbox {SANDBOX}"
    ).encode()


def _walk(message: Message) -> tuple[list[Message], bool, list[Message]]:
    """
    The leaf parts in order (an attached message is one), whether the
    bounds left some out, and every part visited. Not recursive: a message
    nested a thousand deep is read as far as L{MAX_DEPTH}.
    """
    found: list[Message] = []
    nodes: list[Message] = []
    cut = False
    stack: list[tuple[Message, int]] = [(message, 0)]
    while stack:
        node, depth = stack.pop()
        if len(found) >= MAX_PARTS:
            return found, True, nodes
        nodes.append(node)
        payload = node.get_payload()
        if node.get_content_maintype() == "multipart" and isinstance(payload, list):
            if depth >= MAX_DEPTH:
                cut = True
                continue
            stack.extend((p, depth + 1) for p in reversed(payload) if isinstance(p, Message))
        else:
            found.append(node)
    return found, cut, nodes


def _type(part: Message) -> str:
    kind = _clean(part.get_content_type()).lower()
    return kind if _TYPE.fullmatch(kind) else "application/octet-stream"


def _payload(part: Message) -> bytes:
    """A leaf's decoded bytes (an attached message: its bytes)."""
    payload = part.get_payload()
    if isinstance(payload, list):  # message/rfc822 and the like
        return b"".join(p.as_bytes() for p in payload if isinstance(p, Message))
    decoded = part.get_payload(decode=True)
    return decoded if isinstance(decoded, bytes) else b""


def _text(part: Message) -> str:
    """A text part, decoded by its charset (UTF-8 if it names none or one Python lacks)."""
    raw = _payload(part)
    charset = part.get_content_charset() or "utf-8"
    try:
        return raw.decode(charset, "replace")
    except (LookupError, TypeError, ValueError):
        return raw.decode("utf-8", "replace")


def _name(part: Message, index: int, kind: str) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if name:
        return _CONTROL.sub(" ", _clean(str(name)))[:200]
    if kind == "message/rfc822":
        return f"message-{index}.eml"
    return f"part-{index}"


def _headers(message: Message) -> list[tuple[str, str]]:
    shown = []
    for name, value in list(message.raw_items())[:MAX_HEADERS]:
        try:
            decoded = str(message.policy.header_fetch_parse(name, value))
        except Exception:
            decoded = str(value)
        value = _clean(decoded)
        if len(value) > MAX_HEADER_VALUE:
            value = value[:MAX_HEADER_VALUE] + f" … ({len(value)} characters)"
        shown.append((_clean(name)[:200], value))
    return shown


def _inline(html: str, images: dict[str, tuple[str, bytes]]) -> str:
    """C{html} with each C{cid:} reference to one of C{images} made a C{data:} URL."""
    budget = [MAX_INLINE_TOTAL]

    def replace(match: re.Match) -> str:
        found = images.get(unquote(match.group(1)))
        if found is None or len(found[1]) > MAX_INLINE or len(found[1]) > budget[0]:
            return match.group(0)
        budget[0] -= len(found[1])
        return f"data:{found[0]};base64,{base64.b64encode(found[1]).decode()}"

    return _CID.sub(replace, html)


def _newTabs(html: str) -> str:
    """
    C{html} with C{<base target="_blank">} first in its head: a link opens
    in a new tab (the frame's sandbox lets it, unsandboxed, without an
    opener), never in the frame, whose policy would refuse it.
    """
    base = '<base target="_blank">'
    for start in (_HEAD, _DOCTYPE):
        found = start.search(html)
        if found is not None:
            return html[: found.end()] + base + html[found.end() :]
    return base + html


def _clean(text: str) -> str:
    """Text as the page may show it: bytes that were not UTF-8 replaced, no NUL."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that stood for no byte
        raw = text.encode("utf-8", "replace")
    return raw.decode("utf-8", "replace").replace("\0", "")


__all__ = ["MAX_PARSE", "SANDBOX", "Part", "Preview", "framePolicy", "part", "preview"]
