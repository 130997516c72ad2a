"""
Transfer encodings for the next hop. Applications write whole HTML bodies
on one line, and old clients send 8-bit text; SMTP allows lines of at most
998 characters (RFC 5321 4.5.3.1.6) and 8-bit data only to a server that
offers 8BITMIME (RFC 6152). Only the parts that need it are re-encoded, as
quoted-printable for text and base64 for the rest, so that after decoding
every part is exactly what the client sent; everything else keeps its
bytes. Over-long header lines are folded at white space.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

from . import _mime
from ._exceptions import Unfit
from ._header import splitHeader

MAX_LINE = 998
_ENCODED = ("base64", "quoted-printable")
_CTE = "content-transfer-encoding"


def quotedPrintable(data: bytes) -> bytes:
    """Quoted-printable with CRLF line ends and lines of at most 76 characters."""
    encoded = printableQP(data)
    if encoded is not None:
        return encoded
    encoded = binascii.b2a_qp(data, istext=True)
    if b"\r\n" not in data:
        # With no CRLF of its own to copy, b2a_qp breaks lines with LF.
        encoded = encoded.replace(b"\n", b"\r\n")
    return fitQP(encoded)


#: What quoted-printable text may hold as it is (but C{=}, and white space at a line's end).
_PRINTABLE = bytes(range(32, 127)) + b"\t\r\n"
_BLANK = (b" ", b"\t")


def printableQP(data: bytes) -> bytes | None:
    """
    Printable ASCII with CRLF line ends (most HTML, and every template),
    encoded with C{bytes} methods in about 60% of b2a_qp's time: C{=} escaped,
    white space at a line's end and a lone C{.} escaped as b2a_qp does, and
    soft line breaks wherever more than 76 characters remain (never inside
    an escape). C{None} for anything else.
    """
    if data.translate(None, _PRINTABLE):
        return None
    split = data.replace(b"=", b"=3D").split(b"\r\n")
    between = b"".join(split)  # a third of the time of counting CRs, LFs and CRLFs
    if b"\r" in between or b"\n" in between:
        return None  # a bare CR or LF
    lines: list[bytes] = []
    add = lines.append
    for line in split:
        if line[-1:] in _BLANK:
            line = line[:-1] + (b"=20" if line[-1] == 32 else b"=09")
        elif line == b".":
            line = b"=2E"
        size = len(line)
        start = 0
        while size - start > 76:
            # escapeSafeCut's rule, written out: this runs for every long line.
            cut = start + 75
            if line[cut - 1] == 61:  # "=": an escape starts here or just before
                cut -= 1
            elif line[cut - 2] == 61:
                cut -= 2
            add(line[start:cut] + b"=")
            start = cut
        add(line[start:] if start else line)
    return b"\r\n".join(lines)


def escapeSafeCut(line: bytes, cut: int) -> int:
    """C{cut}, moved back to fall before, never inside, an C{=XX} escape of C{line}."""
    while b"=" in line[cut - 2 : cut]:
        cut -= 1
    return cut


def fitQP(encoded: bytes) -> bytes:
    """
    Lines of at most 76 characters (RFC 2045 6.7): b2a_qp writes 77 when it
    encodes white space at the end of a full line (C{...=20}).
    """
    if len(encoded) <= 76:
        return encoded
    lines = encoded.split(b"\r\n")
    if max(map(len, lines)) <= 76:
        return encoded
    fitted = []
    for line in lines:
        while len(line) > 76:
            cut = escapeSafeCut(line, 75)
            fitted.append(line[:cut] + b"=")
            line = line[cut:]
        fitted.append(line)
    return b"\r\n".join(fitted)


def _base64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def hasLongLine(data: bytes) -> bool:
    return len(data) > MAX_LINE and any(len(line) > MAX_LINE for line in data.split(b"\r\n"))


def has8bit(data: bytes) -> bool:
    return not data.isascii()


def foldField(raw: bytes) -> bytes:
    """A header field with every physical line of at most 998 characters, folded at white space."""
    lines = raw[:-2].split(b"\r\n") if raw.endswith(b"\r\n") else raw.split(b"\r\n")
    out = []
    for line in lines:
        while len(line) > MAX_LINE:
            # Fold before the last space or tab that keeps this line short
            # enough, never at the start (a line of only white space would
            # end the header).
            cut = max(line.rfind(b" ", 1, MAX_LINE + 1), line.rfind(b"\t", 1, MAX_LINE + 1))
            if cut <= 0 or not line[:cut].strip():
                name = raw.split(b":", 1)[0].decode("ascii", "replace")[:40]
                raise Unfit(
                    f"the {name} header has a line longer than 998 characters"
                    " without white space to fold it at"
                )
            out.append(line[:cut])
            line = line[cut:]
        out.append(line)
    return b"\r\n".join(out) + b"\r\n"


def fitLines(content: bytes) -> bytes:
    """
    C{content} with no line over 998 characters: long header lines folded,
    parts with long lines re-encoded.
    @raise Unfit: a header line without white space, or long lines where no
        encoding may go (a forwarded message, the text around the parts of an
        ambiguous or multipart structure).
    """
    fields, rest = splitHeader(content)
    fields = [foldField(raw) if hasLongLine(raw) else raw for raw in fields]
    content = b"".join(fields) + rest
    if not hasLongLine(rest):
        return content
    return _reencode(content, hasLongLine, "a line longer than 998 characters")


def sevenBit(content: bytes) -> bytes:
    """
    C{content} for a server without 8BITMIME: 8-bit parts re-encoded.
    Header fields are left as they are (most servers take UTF-8 there).
    """
    _, rest = splitHeader(content)
    if not has8bit(rest):
        return content
    try:
        return _reencode(content, has8bit, "8-bit data")
    except Unfit:
        return content  # nothing better to send: the server may still take it


def _reencode(content: bytes, needs: Callable[[bytes], bool], what: str) -> bytes:
    try:
        root = _mime.parse(content)
    except _mime.AmbiguousMIME as e:
        raise Unfit(f"{what} in a message whose MIME structure is ambiguous ({e})")
    _visit(root, needs, what)
    return _mime.serialise(root)


def _visit(part: _mime.Part, needs, what: str) -> bool:
    """Re-encode what needs it below C{part}; C{True} if anything changed."""
    if part.children:
        if needs(part.preamble) or needs(part.closing):
            raise Unfit(f"{what} outside the parts of a multipart")
        changed = False
        for child in part.children:
            changed = _visit(child, needs, what) or changed
        part.changed = part.changed or changed
        return changed
    if not needs(part.body):
        return False
    if part.isMultipart or part.headers.get_content_maintype() == "message":
        raise Unfit(f"{what} in a {part.contentType} part, which may not be re-encoded")
    try:
        data = part.decoded() if part.transferEncoding in _ENCODED else part.body
    except _mime.MIMEError as e:
        raise Unfit(f"{what} in a part whose encoding cannot be read ({e})")
    if part.headers.get_content_maintype() == "text":
        encoding, body = b"quoted-printable", quotedPrintable(data)
    else:
        encoding, body = b"base64", _base64(data)
    part.fields = _mime.replaceFields(
        part.fields, {_CTE: b"Content-Transfer-Encoding: " + encoding + b"\r\n"}
    )
    if not part.separator:
        part.separator = b"\r\n"
    part.replacement = [body]
    part.changed = True
    return True
