"""
Text and HTML parts while the chain works on them, and the templates they
become: the part's text with a L{Slot} wherever each recipient's copy needs
its own value (a click or open token). A template is made once per message
(and cached by content); a recipient's copy only fills its slots and encodes.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Callable
from typing import cast

import lxml.etree
import lxml.html
from attrs import field, frozen

from ..message import MIMEError, escapeSafeCut, printableQP, quotedPrintable

NOTRACK = "data-smtpeter-notrack"
_DOCTYPE = re.compile(r"(?:\ufeff)?\s*(?:<!--.*?-->\s*)*<!doctype", re.IGNORECASE | re.DOTALL)


@frozen
class Slot:
    """A value the feature named C{feature} supplies per recipient, from C{value}."""

    feature: str
    value: str


@frozen
class Template:
    """
    A text part as a sequence of text and slots. C{escape} is set for HTML:
    filled values are escaped for an attribute or text context.
    """

    segments: tuple[str | Slot, ...]
    escape: bool = False

    @property
    def slots(self) -> list[Slot]:
        return [s for s in self.segments if isinstance(s, Slot)]

    def render(self, fill: Callable[[Slot], str]) -> str:
        if self.escape:
            return "".join(
                s if isinstance(s, str) else html.escape(fill(s), quote=True) for s in self.segments
            )
        return "".join(s if isinstance(s, str) else fill(s) for s in self.segments)


@frozen
class EncodedTemplate:
    """
    A L{Template} as a MIME body: UTF-8, quoted-printable, CRLF lines. Line
    ends are made CRLF once, here; filled values never hold a line end.

    The text between slots is encoded once, here; a copy encodes only its
    filled values, each set between soft line breaks (C{=CRLF}, which a
    decoder removes), so every line stays within 76 characters and the
    decoded text is exactly the filled template.
    """

    template: Template = field(converter=lambda t: _crlfTemplate(t))
    encoded: tuple[bytes | Slot, ...] = field(init=False)

    @encoded.default
    def _encodeText(self) -> tuple[bytes | Slot, ...]:
        merged: list[str | Slot] = []
        for segment in self.template.segments:
            if isinstance(segment, str) and merged and isinstance(merged[-1], str):
                merged[-1] += segment
            else:
                merged.append(segment)
        return tuple(_placed(merged, str, _qpEach([s for s in merged if isinstance(s, str)])))

    def render(self, fill: Callable[[Slot], str]) -> bytes:
        if len(self.encoded) == 1 and isinstance(self.encoded[0], bytes):
            return self.encoded[0]
        values = [fill(piece) for piece in self.encoded if isinstance(piece, Slot)]
        encoded = _qpEach(values, escape=self.template.escape)
        return b"".join(_placed(self.encoded, Slot, encoded))


def _placed(segments, kind: type, encoded: list[bytes]) -> list:
    """
    C{segments}, each of type C{kind} replaced by the next of C{encoded},
    ended by a soft line break unless it is the last segment.
    """
    values = iter(encoded)
    last = len(segments) - 1
    return [
        (next(values) if i == last else _ended(next(values))) if isinstance(s, kind) else s
        for i, s in enumerate(segments)
    ]


_SOFT = b"=\r\n"


def _ended(encoded: bytes) -> bytes:
    """
    C{encoded} quoted-printable followed by a soft line break, its last line
    broken earlier if the C{=} would make it longer than 76 characters
    (never inside an C{=XX} escape).
    """
    start = encoded.rfind(b"\n") + 1
    line = encoded[start:]
    if len(line) <= 75:
        return encoded + _SOFT
    cut = escapeSafeCut(line, 75)
    return encoded[:start] + line[:cut] + _SOFT + line[cut:] + _SOFT


#: Printable ASCII but C{=} and space: quoted-printable needs only soft line breaks in it.
_PLAIN = re.compile(r"[!-<>-~]+")


def _qp(text: str) -> bytes:
    """Quoted-printable with CRLF line ends, whatever line ends C{text} has (or none)."""
    if text != "." and _PLAIN.fullmatch(text):
        # A filled link, mostly: cut where b2a_qp cuts (75 characters and
        # a soft break, as long as more than 76 remain), at a tenth the cost.
        data = text.encode("ascii")
        lines = [data[i : i + 75] for i in range(0, len(data) - 76, 75)]
        lines.append(data[len(lines) * 75 :])
        return _SOFT.join(lines)
    return quotedPrintable(text.encode("utf-8"))


#: A line set between texts encoded in one call: quoted-printable leaves it as it is.
_MARK = "SMTPETERxBETWEENxTEXTS"
_BETWEEN = f"\r\n{_MARK}\r\n"


def _qpEach(texts: list[str], escape: bool = False) -> list[bytes]:
    """
    C{[_qp(t) for t in texts]} (each text HTML-escaped first if C{escape}),
    for texts with CRLF line ends or none. Printable ASCII texts (the text
    between a template's links, and the links filled in) are encoded in one
    call, joined by a line of their own: quoted-printable encodes each line
    by itself, so every text comes out as it would alone, at a fraction of
    the cost of one call per text.
    """
    if len(texts) > 1:
        joined = _BETWEEN.join(texts)
        if escape:
            joined = html.escape(joined, quote=True)
        if joined.isascii() and joined.count(_MARK) == len(texts) - 1:
            encoded = printableQP(joined.encode("ascii"))
            if encoded is not None:
                return encoded.split(_BETWEEN.encode("ascii"))
    return [_qp(html.escape(t, quote=True) if escape else t) for t in texts]


def _crlf(text: str) -> str:
    """Every line end (CRLF, CR or LF) as CRLF; plain replaces, ten times a regex's speed."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\n", "\r\n")


def _crlfTemplate(template: Template) -> Template:
    return Template(
        tuple(_crlf(s) if isinstance(s, str) else s for s in template.segments),
        template.escape,
    )


class _Slotted:
    """Placeholders that survive any serialisation: ASCII letters and digits only."""

    def __init__(self) -> None:
        self._nonce = secrets.token_hex(6)
        self._slots: list[Slot] = []

    def slot(self, feature: str, value: str) -> str:
        """A placeholder to put where this recipient's value goes."""
        self._slots.append(Slot(feature, value))
        return f"SMTPETER{self._nonce}SLOT{len(self._slots) - 1}END"

    def _template(self, text: str, escape: bool) -> Template:
        if not self._slots:
            return Template((text,), escape)
        # Split at our placeholders' common start: a third faster than
        # a regular expression's matches on a newsletter.
        start = f"SMTPETER{self._nonce}SLOT"
        first, *rest = text.split(start)
        segments: list[str | Slot] = [first]
        for piece in rest:
            number, end, after = piece.partition("END")
            if end and number.isascii() and number.isdigit() and int(number) < len(self._slots):
                segments.append(self._slots[int(number)])
                segments.append(after)
            else:  # not a placeholder after all: it stays text
                segments[-1] = cast(str, segments[-1]) + start + piece
        return Template(tuple(s for s in segments if s != ""), escape)


class TextDocument(_Slotted):
    """A text/plain part: C{text} may be changed, with slots in it."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def template(self) -> Template:
        return self._template(self.text, False)


class HtmlDocument(_Slotted):
    """
    A text/html part, as text or as an lxml tree, whichever the feature at
    work wants; the conversion happens only when a feature switches form.
    """

    def __init__(self, text: str) -> None:
        super().__init__()
        self._original = text
        self._text: str | None = text
        self._tree = None
        self._doctype = bool(_DOCTYPE.match(text))

    @property
    def touched(self) -> bool:
        """Has a feature changed the text or asked for the tree (to change it)?"""
        return self._tree is not None or self._text is not self._original

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = _serialise(self._tree, self._doctype)
            self._tree = None
        return self._text

    @text.setter
    def text(self, value: str) -> None:
        self._text, self._tree = value, None

    @property
    def tree(self):
        if self._tree is None:
            assert self._text is not None  # the document is kept as one or the other
            self._tree = _parse(self._text)
            self._text = None
        return self._tree

    def template(self) -> Template:
        tree = self.tree
        for element in _MARKED(tree):
            del element.attrib[NOTRACK]
        _declareUTF8(tree)
        return self._template(self.text, True)


_MARKED = lxml.etree.XPath(f"descendant-or-self::*[@{NOTRACK}]")


def _parse(text: str):
    try:
        root = lxml.html.document_fromstring(text)
    except (lxml.etree.ParserError, ValueError) as e:
        raise MIMEError(f"HTML that cannot be parsed: {e}") from e
    return root


def _serialise(root, doctype: bool) -> str:
    # libxml2 makes up an HTML 4.0 doctype for documents that had none.
    if doctype:
        return lxml.etree.tostring(root.getroottree(), method="html", encoding="unicode")
    return lxml.etree.tostring(root, method="html", encoding="unicode")


def _declareUTF8(root) -> None:
    """The part goes out as UTF-8: a C{<meta>} that says otherwise would mislead."""
    for meta in root.iter("meta"):
        if "charset" in meta.attrib:
            meta.set("charset", "utf-8")
        elif meta.get("http-equiv", "").lower() == "content-type":
            meta.set("content", "text/html; charset=utf-8")
