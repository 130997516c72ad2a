"""
A MIME tree that remembers where every part came from, byte for byte.

The C{email} package re-serialises a whole message, which changes bytes we
must not touch and costs about 5 ms for a 60 KB newsletter. This parser only
finds the boundaries: each L{Part} knows the raw bytes of its header and
body, a multipart knows the raw delimiter lines between its children, and
L{serialise} writes back the original bytes of everything that was not
replaced. Bodies are decoded only when a feature asks (L{Part.text}).

message/rfc822 parts are leaves: a forwarded message is not ours to rewrite.

A structure that can be read more than one way (a nested multipart that
reuses an enclosing boundary, a multipart without its close delimiter) is
L{AmbiguousMIME}: readers differ on where its parts end, so no part of it
may be rewritten; L{opaque} gives such a message as one untouchable body.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterator
from email.message import Message
from email.parser import BytesHeaderParser

from attrs import define, field, frozen

from ._exceptions import AmbiguousMIME, MIMEError
from ._header import fieldName, splitHeader

MAX_DEPTH = 20
_CONTENT_FIELDS = ("content-type", "content-transfer-encoding")


@define(eq=False)
class Part:
    """
    One MIME entity. C{fields} are its raw header fields (continuation lines
    and CRLFs included), C{body} its raw body, C{separator} the empty line
    between them. For a multipart, C{children} and C{delimiters} (the raw
    delimiter line before each child, with the CRLF that precedes it),
    C{preamble} and C{closing} (close delimiter and epilogue).
    """

    fields: list[bytes]
    separator: bytes
    body: bytes = field(repr=False)
    headers: Message = field(repr=False)
    children: list[Part] = field(factory=list)
    delimiters: list[bytes] = field(factory=list, repr=False)
    preamble: bytes = field(default=b"", repr=False)
    closing: bytes = field(default=b"", repr=False)
    #: Set when a feature replaced or removed something below this part.
    changed: bool = False
    #: A replacement for the body: pieces as L{pieces} returns them.
    replacement: list | None = None
    _text: str | None = field(default=None, repr=False)

    @property
    def contentType(self) -> str:
        return self.headers.get_content_type()

    @property
    def isMultipart(self) -> bool:
        return bool(self.children) or (
            self.headers.get_content_maintype() == "multipart"
            and self.headers.get_param("boundary") is not None
        )

    @property
    def transferEncoding(self) -> str:
        return str(self.headers.get("content-transfer-encoding", "7bit")).strip().lower()

    @property
    def contentId(self) -> str | None:
        value = self.headers.get("content-id")
        if value is None:
            return None
        return str(value).strip().strip("<>").strip() or None

    @property
    def isAttachment(self) -> bool:
        return (
            str(self.headers.get("content-disposition", ""))
            .strip()
            .lower()
            .startswith("attachment")
        )

    def walk(self) -> Iterator[Part]:
        yield self
        for child in self.children:
            yield from child.walk()

    def decoded(self) -> bytes:
        """The body with its transfer encoding undone."""
        encoding = self.transferEncoding
        if encoding == "base64":
            try:
                return binascii.a2b_base64(re.sub(rb"[^A-Za-z0-9+/=]", b"", self.body) + b"==")
            except binascii.Error as e:
                raise MIMEError(f"bad base64: {e}") from e
        if encoding == "quoted-printable":
            return binascii.a2b_qp(self.body)
        return self.body

    def text(self) -> str:
        """
        The decoded body as text. A wrongly declared charset is common: if
        the declared one does not decode it, UTF-8 and then Windows-1252
        (which reads nearly anything ISO-8859-1 can) are tried.
        """
        if self._text is None:
            self._text = self._decodeText()
        return self._text

    def _decodeText(self) -> str:
        raw = self.decoded()
        declared = self.headers.get_content_charset() or "us-ascii"
        for charset in (declared, "utf-8", "windows-1252", "latin-1"):
            try:
                return raw.decode(charset)
            except (LookupError, UnicodeDecodeError):
                continue
        raise MIMEError("undecodable text")  # unreachable: latin-1 decodes all bytes


def parse(content: bytes, depth: int = 0, enclosing: tuple[bytes, ...] = ()) -> Part:
    """
    Parse CRLF content into a tree of L{Part}s without changing a byte.
    @raise AmbiguousMIME: when the multipart structure can be read two ways.
    """
    part = opaque(content)
    boundary = (
        part.headers.get_param("boundary")
        if part.headers.get_content_maintype() == "multipart"
        else None
    )
    if isinstance(boundary, str) and boundary and depth < MAX_DEPTH:
        raw = boundary.encode("ascii", "replace")
        if raw in enclosing:
            raise AmbiguousMIME(f"a nested multipart reuses the enclosing boundary {boundary!r}")
        _splitMultipart(part, raw, depth, enclosing + (raw,))
    return part


def opaque(content: bytes) -> Part:
    """The message as one part: its header, and its body as bytes never looked into."""
    try:
        fields, rest = splitHeader(content)
    except Exception as e:
        raise MIMEError(f"bad header section: {e}") from e
    separator, body = _splitSeparator(rest)
    headers = BytesHeaderParser().parsebytes(b"".join(fields) + b"\r\n")
    return Part(fields, separator, body, headers)


def _splitSeparator(rest: bytes) -> tuple[bytes, bytes]:
    if rest.startswith(b"\r\n"):
        return b"\r\n", rest[2:]
    return rest[:0], rest


def _splitMultipart(part: Part, boundary: bytes, depth: int, enclosing: tuple) -> None:
    body = part.body
    # The pattern starts with the literal delimiter so that the regex engine
    # can search for it quickly; the CRLF before it is checked afterwards.
    pattern = re.compile(b"--" + re.escape(boundary) + rb"(--)?[ \t]*(?:\r\n|$)")
    found = [
        _Delimiter(m.start() - (2 if m.start() else 0), m.end(), m.group(1))
        for m in pattern.finditer(body)
        if m.start() == 0 or body[m.start() - 2 : m.start()] == b"\r\n"
    ]
    opening = [m for m in found if not m.close]
    if not opening:
        return  # not really a multipart: keep it as one opaque leaf
    closing = next((m for m in found if m.close and m.start > opening[-1].start), None)
    if closing is None:
        raise AmbiguousMIME(f"a multipart never closes (boundary {boundary.decode()!r})")
    part.preamble = body[: opening[0].start]
    edges = opening + ([closing] if closing else [])
    for i, m in enumerate(opening):
        end = edges[i + 1].start if i + 1 < len(edges) else len(body)
        part.delimiters.append(body[m.start : m.end])
        part.children.append(parse(body[m.end : end], depth + 1, enclosing))
    part.closing = body[closing.start :]


@frozen
class _Delimiter:
    start: int
    end: int
    close: bytes | None


def pieces(part: Part) -> list:
    """
    The part as a list of C{bytes} (the original ones wherever nothing
    changed) and the per-recipient templates that replaced text parts, with
    adjacent bytes joined.
    """
    out: list = []

    def add(piece) -> None:
        if isinstance(piece, bytes) and out and isinstance(out[-1], bytes):
            out[-1] += piece
        elif piece != b"":
            out.append(piece)

    def visit(node: Part) -> None:
        if node.replacement is not None:
            add(b"".join(node.fields) + node.separator)
            for piece in node.replacement:
                add(piece)
        elif not node.changed:
            add(b"".join(node.fields) + node.separator + node.body)
        else:
            add(b"".join(node.fields) + node.separator + node.preamble)
            for delimiter, child in zip(node.delimiters, node.children, strict=True):
                add(delimiter)
                visit(child)
            add(node.closing)

    visit(part)
    return out


def serialise(part: Part) -> bytes:
    """The part's bytes, for parts with no per-recipient template in them."""
    out = pieces(part)
    if any(not isinstance(p, bytes) for p in out):
        raise TypeError("the part holds per-recipient templates")
    return b"".join(out)


def replaceFields(fields: list[bytes], replacements: dict[str, bytes | None]) -> list[bytes]:
    """
    C{fields} with the named ones (lower-case names) replaced in place by a
    new raw field, or dropped for C{None}; names not present are appended.
    """
    out: list[bytes] = []
    done = set()
    for raw in fields:
        name = fieldName(raw)
        if name in replacements:
            replacement = replacements[name]
            if name not in done and replacement is not None:
                out.append(replacement)
            done.add(name)
        else:
            out.append(raw)
    for name, value in replacements.items():
        if name not in done and value is not None:
            out.append(value)
    return out


def contentFields(part: Part) -> dict[str, bytes | None]:
    """The C{Content-*} fields of C{part} as raw fields, to move them onto another header."""
    found: dict[str, bytes | None] = {name: None for name in _CONTENT_FIELDS}
    for raw in part.fields:
        name = fieldName(raw)
        if name.startswith("content-"):
            found[name] = raw
    return found


def collapse(parent: Part, index: int) -> None:
    """
    Put C{parent}'s only remaining child (at C{index}) in its place: the
    child's body and C{Content-*} fields, the parent's other fields.
    """
    child = parent.children[index]
    replacements: dict[str, bytes | None] = {
        name: None
        for name in (fieldName(raw) for raw in parent.fields)
        if name.startswith("content-")
    }
    replacements.update(contentFields(child))
    parent.fields = replaceFields(parent.fields, replacements)
    parent.headers = child.headers
    parent.body = child.body
    parent.children = child.children
    parent.delimiters = child.delimiters
    parent.preamble = child.preamble
    parent.closing = child.closing
    parent.replacement = child.replacement
    parent.changed = child.changed
