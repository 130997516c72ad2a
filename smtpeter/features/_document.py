"""
Text and HTML parts while the chain works on them, and the templates they
become: the part's text with a L{Slot} wherever each recipient's copy needs
its own value (a click or open token). A template is made once per message
(and cached by content); a recipient's copy only fills its slots and encodes.
"""

from __future__ import annotations

import binascii
import html
import re
import secrets
from collections.abc import Callable

import lxml.etree
import lxml.html
from attrs import field, frozen

from ._mime import MIMEError

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
    """

    template: Template = field(converter=lambda t: _crlfTemplate(t))

    def render(self, fill: Callable[[Slot], str]) -> bytes:
        return binascii.b2a_qp(self.template.render(fill).encode("utf-8"), istext=True)


_LINE_END = re.compile(r"\r\n|\r|\n")


def _crlfTemplate(template: Template) -> Template:
    return Template(
        tuple(_LINE_END.sub("\r\n", s) if isinstance(s, str) else s for s in template.segments),
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
        pattern = re.compile(f"SMTPETER{self._nonce}SLOT([0-9]+)END")
        segments: list[str | Slot] = []
        position = 0
        for m in pattern.finditer(text):
            segments.append(text[position : m.start()])
            segments.append(self._slots[int(m.group(1))])
            position = m.end()
        segments.append(text[position:])
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
            self._tree = _parse(self._text)
            self._text = None
        return self._tree

    def template(self) -> Template:
        tree = self.tree
        for element in tree.iter():
            if isinstance(element.tag, str) and NOTRACK in element.attrib:
                del element.attrib[NOTRACK]
        _declareUTF8(tree)
        return self._template(self.text, True)


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
