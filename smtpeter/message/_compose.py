"""
A message built from parts (the REST API's C{from}, C{to}, C{subject},
C{text}, C{html}, C{attachments} ...): well-formed MIME, made with Python's
C{email} package under its SMTP policy.

 - C{text} and C{html}: C{multipart/alternative}; with attachments, inside
   a C{multipart/mixed}; one of them alone: that part alone.
 - Bodies: C{7bit} when they are short-lined ASCII, else quoted-printable;
   attachments base64. Lines end in CRLF, none is over 998 characters.
 - Header fields with non-ASCII text (display names too): RFC 2047
   encoded words; file names: RFC 2231.
 - Addresses: C{"Name <a@b>"}, C{"a@b, Name <c@d>"}, or a list of them.
 - No CR or LF in any field a caller gives (header injection): refused.

Fields the gateway reads or that must stay byte for byte (C{List-
Unsubscribe} URLs, C{x-*} fields) are written as given (L{MessageParts.raw}),
folded at white space where long, never turned into encoded words.

This module is pure: bytes out, L{ComposeError} (naming the caller's
field) for what cannot be built. It does not add Message-ID or Date: the
submission step does that for every message (L{smtpeter.smtp}).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from email import policy
from email.errors import HeaderParseError
from email.header import Header
from email.headerregistry import Address
from email.message import MIMEPart

from attrs import field, frozen

from ._encoding import MAX_LINE, foldField
from ._exceptions import MessageError, Unfit

#: A header field's name (RFC 5322 ftext).
_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]{1,100}")
#: An address as an envelope takes it: ASCII, an @ and no white space or brackets.
_ADDRESS = re.compile(r"[^\s@<>()\[\],;:\"\\]{1,64}@[A-Za-z0-9.-]{1,255}|[^\s@<>]+@\[[^\]]+\]")
_MIME_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]{1,64}/[A-Za-z0-9!#$&^_.+-]{1,64}")
#: Addresses in one field of the header at most, and the most text they may
#: take: checked before they are parsed (the parser's time grows faster
#: than the text).
MAX_ADDRESSES = 500
MAX_ADDRESS_TEXT = 32 * 1024
#: What no header field value holds: C0 controls but TAB, DEL, C1 controls,
#: and U+2028/U+2029 (str.splitlines, and so the email package, ends lines
#: at several of them).
_BREAKS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


class ComposeError(MessageError):
    """A part that cannot go into a message: C{field} names it, the text says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@frozen
class Attachment:
    name: str
    type: str
    data: bytes = field(repr=False)


@frozen
class MessageParts:
    """A message's parts, as a caller gave them (strings; lists of addresses)."""

    sender: str | Sequence[str] | None = None
    to: str | Sequence[str] | None = None
    cc: str | Sequence[str] | None = None
    replyto: str | Sequence[str] | None = None
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    #: Fields written as given (name, value), after the others: C{x-*}
    #: fields, C{List-Unsubscribe}. Each is checked, and folded if long.
    raw: tuple[tuple[str, str, str], ...] = ()


def noBreaks(name: str, value: str) -> str:
    """
    C{value}, if it holds no line break or control character, not even in
    an encoded word (C{=?utf-8?q?=0D=0A?=}: the email package, before
    Python 3.11.10, folds what those decode to into the header as it is);
    else a L{ComposeError} naming C{name}.
    """
    if _BREAKS.search(value):
        raise ComposeError(
            name, "may not hold line breaks or control characters (CR, LF, NUL, U+2028 ...)"
        )
    if "=?" in value:
        try:
            decoded = str(policy.SMTP.header_factory("subject", value))
        except (HeaderParseError, IndexError, ValueError):
            decoded = "\n"
        if _BREAKS.search(decoded):
            raise ComposeError(
                name, "may not hold an encoded word (=?...?=) that decodes to a line break"
            )
    return value


def parseAddresses(name: str, value: str | Sequence[str]) -> list[Address]:
    """
    The addresses of a field given as C{"Name <a@b>, c@d"} or as a list of
    such strings. @raise ComposeError: naming C{name}, for anything that is
    not a list of addresses.
    """
    items = [value] if isinstance(value, str) else list(value)
    texts = [item for item in items if isinstance(item, str)]
    if sum(text.count("@") for text in texts) > MAX_ADDRESSES:
        raise ComposeError(name, f"at most {MAX_ADDRESSES} addresses")
    if sum(len(text) for text in texts) > MAX_ADDRESS_TEXT:
        raise ComposeError(name, f"at most {MAX_ADDRESS_TEXT // 1024} KiB of addresses")
    found: list[Address] = []
    for item in items:
        if not isinstance(item, str):
            raise ComposeError(name, "an address is a string, such as 'Name <a@example.com>'")
        noBreaks(name, item)
        try:
            header = policy.SMTP.header_factory("to", item)
            addresses = list(header.addresses)  # type: ignore[attr-defined]
        except (HeaderParseError, IndexError, ValueError, AttributeError) as e:
            # (AttributeError: a group in a group, which the parser takes but cannot list)
            raise ComposeError(name, f"{item[:100]!r} is not an address list ({e})") from None
        if header.defects or not addresses:  # type: ignore[attr-defined]
            raise ComposeError(name, f"{item[:100]!r} is not an address list")
        for address in addresses:
            if not _ADDRESS.fullmatch(address.addr_spec) or not address.addr_spec.isascii():
                raise ComposeError(
                    name, f"{address.addr_spec[:100]!r} is not an address such as a@example.com"
                )
        found.extend(addresses)
    if len(found) > MAX_ADDRESSES:
        raise ComposeError(name, f"at most {MAX_ADDRESSES} addresses")
    return found


def rawField(name: str, value: str, field: str) -> bytes:
    """
    One header field as given, folded at white space if long; a value
    with non-ASCII text is written as encoded words. C{field} is what a
    L{ComposeError} names.
    """
    if not _NAME.fullmatch(name):
        raise ComposeError(field, f"{name[:100]!r} is not a header field name")
    noBreaks(field, value)
    if value.isascii():
        line = f"{name}: {value}\r\n".encode("ascii")
    else:
        encoded = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
        line = f"{name}: {encoded}\r\n".encode("ascii")
    if max(len(part) for part in line.split(b"\r\n")) <= MAX_LINE:
        return line
    try:
        return foldField(line)
    except Unfit:
        raise ComposeError(field, f"{name} is too long to fold into lines") from None


def _body(text: str) -> str | None:
    """The transfer encoding for a text body: C{7bit} if it may go as it is, else QP."""
    lines = text.splitlines()
    if text.isascii() and all(len(line) <= MAX_LINE - 2 for line in lines):
        return "7bit"
    return "quoted-printable"


def compose(draft: MessageParts) -> bytes:
    """The message's bytes, CRLF line ends; L{ComposeError} for a part that cannot be."""
    # A MIMEPart, not an EmailMessage: the latter writes MIME-Version in every part.
    message = MIMEPart(policy=policy.SMTP)
    for name, header, value in (
        ("from", "From", draft.sender),
        ("to", "To", draft.to),
        ("cc", "Cc", draft.cc),
        ("replyto", "Reply-To", draft.replyto),
    ):
        if value is not None:
            message[header] = parseAddresses(name, value)
    if draft.subject is not None:
        message["Subject"] = noBreaks("subject", draft.subject)
    text, html = draft.text, draft.html
    if text is None and html is None and not draft.attachments:
        raise ComposeError("text", "a message needs text, html or attachments")
    if text is not None:
        message.set_content(text, cte=_body(text))
        if html is not None:
            message.add_alternative(html, subtype="html", cte=_body(html))
    elif html is not None:
        message.set_content(html, subtype="html", cte=_body(html))
    for attachment in draft.attachments:
        if not _MIME_TYPE.fullmatch(attachment.type):
            raise ComposeError(
                "attachments",
                f"{attachment.type[:100]!r} is not a MIME type such as application/pdf",
            )
        noBreaks("attachments", attachment.name)
        maintype, subtype = attachment.type.lower().split("/")
        if maintype in ("multipart", "message"):
            raise ComposeError(
                "attachments", f"{attachment.type}: attach a message as application/octet-stream"
            )
        message.add_attachment(
            attachment.data, maintype=maintype, subtype=subtype, filename=attachment.name
        )
    if "MIME-Version" not in message:
        message["MIME-Version"] = "1.0"
    fields = b"".join(rawField(name, value, field) for field, name, value in draft.raw)
    return fields + message.as_bytes()
