"""
The body of C{POST /v1/send} read: every field checked, each mistake a
C{400} naming its field, and the message made (L{smtpeter.message.compose}
for parts, or the C{mime} given) with the options written as the
C{x-smtpeter-*} header fields the SMTP path reads: L{readOptions
<smtpeter.smtp.readOptions>} is the one place options are read, for both.

This module does no I/O: L{readSend} is given the decoded JSON object and
the limits, and gives a L{SendRequest} back.
"""

from __future__ import annotations

import re
from email.utils import getaddresses
from typing import Any

from attrs import frozen

from ..features import DELIVER_TIME_WHY, MAX_DELIVER_TIME, PREFIX, parseDeliverTime
from ..message import (
    ComposeError,
    HeaderError,
    MessageParts,
    Recipient,
    Unfit,
    compose,
    fitLines,
    parseAddresses,
    rawField,
    splitHeader,
)
from ..smtp import MAX_TAGS, SMTPRefusal, isAddressType, readOptions
from ._sendparts import bad, mailbox, readAttachments, readUnsubscribe

#: The switches, by field name, and the header each becomes.
SWITCHES = {
    "inlinecss": "X-Smtpeter-InlineCSS",
    "trackclicks": "X-Smtpeter-TrackClicks",
    "trackopens": "X-Smtpeter-TrackOpens",
    "trackbounces": "X-Smtpeter-TrackBounces",
    "preventscam": "X-Smtpeter-PreventScam",
}
IMAGES = ("hosted", "default", "inline")
#: The fields that make a message from parts (none of them with C{mime}).
PARTS = ("from", "to", "cc", "replyto", "subject", "text", "html", "attachments")
OPTIONS = (*SWITCHES, "images", "tags", "maxdelivertime")
FIELDS = (
    "recipient",
    "recipients",
    "mime",
    *PARTS,
    "extra",
    "unsubscribe",
    "envelope",
    *OPTIONS,
    "dsn",
)
NOTIFY = ("SUCCESS", "FAILURE", "DELAY")
RET = ("FULL", "HDRS")
_ANY_ENDING = re.compile(rb"\r\n|\r|\n")
#: ORCPT's addr-type (RFC 3461 section 4.2): rfc822, utf-8, x400, unknown ...
#: The most header fields C{extra} adds.
MAX_EXTRA = 100
#: The longest C{subject}, in characters (the email package's folding of a
#: long header field takes time that grows with the square of its length).
MAX_SUBJECT = 10_000


@frozen
class SendRequest:
    """What C{POST /v1/send} asks: an envelope, and the message's bytes."""

    recipients: tuple[Recipient, ...]
    #: The envelope sender, and the field it came from (C{envelope} or C{from}).
    sender: str
    senderField: str
    content: bytes
    ret: str | None = None
    envid: str | None = None
    #: The content holds 8-bit data (BODY=8BITMIME).
    eightBit: bool = False


def _text(body: dict, name: str, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise bad(name, "required")
        return None
    if not isinstance(value, str):
        raise bad(name, "a string")
    return value


def _subject(body: dict) -> str | None:
    subject = _text(body, "subject")
    if subject is not None and len(subject) > MAX_SUBJECT:
        raise bad("subject", f"at most {MAX_SUBJECT} characters")
    return subject


def _addresses(field: str, value: Any) -> list[str]:
    """The bare addresses of a header field's value (string or list), or a 400."""
    if not isinstance(value, (str, list)):
        raise bad(field, "addresses, as a string ('a@b, Name <c@d>') or a list of them")
    try:
        return [a.addr_spec for a in parseAddresses(field, value)]
    except ComposeError as e:
        raise bad(e.field, e.reason) from None


def _recipients(body: dict, maxRecipients: int) -> list[str]:
    if "recipient" in body and "recipients" in body:
        raise bad("recipient", "give recipient (one address) or recipients (a list), not both")
    if "recipient" in body:
        return [mailbox("recipient", body["recipient"])]
    if "recipients" in body:
        value = body["recipients"]
        if isinstance(value, str):
            value = [v for v in (part.strip() for part in value.split(",")) if v]
        if not isinstance(value, list) or not value:
            raise bad("recipients", "a list of one or more addresses")
        if len(value) > maxRecipients:
            raise bad("recipients", f"at most {maxRecipients} recipients per message")
        return [mailbox("recipients", v) for v in value]
    if "mime" in body:
        raise bad("recipients", "required with mime: the addresses to deliver to")
    found = [a for name in ("to", "cc") if name in body for a in _addresses(name, body[name])]
    if not found:
        raise bad("recipients", "required: the addresses to deliver to (or give to or cc)")
    if len(found) > maxRecipients:
        raise bad("recipients", f"at most {maxRecipients} recipients per message")
    return [mailbox("to", a) for a in found]


def _dsn(
    body: dict, recipients: list[str]
) -> tuple[tuple[str, ...], str | None, str | None, str | None]:
    """C{dsn}: (notify, ret, envid, orcpt), as RCPT's and MAIL's parameters give them."""
    value = body.get("dsn")
    if value is None:
        return (), None, None, None
    if not isinstance(value, dict):
        raise bad("dsn", "an object with notify, ret, envid and orcpt")
    unknown = sorted(set(value) - {"notify", "ret", "envid", "orcpt"})
    if unknown:
        raise bad("dsn", f"{unknown[0][:100]}: unknown; allowed: notify, ret, envid, orcpt")
    notify: tuple[str, ...] = ()
    if value.get("notify") is not None:
        words = value["notify"]
        if isinstance(words, str):
            words = words.split(",")
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise bad("dsn", "notify: a list (or a comma-separated string) of words")
        notify = tuple(w.strip().upper() for w in words)
        if not (notify == ("NEVER",) or (notify and set(notify) <= set(NOTIFY))):
            raise bad("dsn", "notify: NEVER alone, or some of SUCCESS, FAILURE and DELAY")
        notify = tuple(dict.fromkeys(notify))
    ret = value.get("ret")
    if ret is not None:
        if not isinstance(ret, str) or ret.upper() not in RET:
            raise bad("dsn", "ret: FULL or HDRS")
        ret = ret.upper()
    envid = value.get("envid")
    if envid is not None and (
        not isinstance(envid, str)
        or not 0 < len(envid) <= 100
        or not all(" " < c <= "~" for c in envid)
    ):
        raise bad("dsn", "envid: 1 to 100 printable ASCII characters, no spaces")
    orcpt = value.get("orcpt")
    if orcpt is not None:
        if len(recipients) != 1:
            raise bad("dsn", "orcpt: the original recipient of one recipient only")
        kind, _, address = orcpt.partition(";") if isinstance(orcpt, str) else ("", "", "")
        if not address:
            kind, address = "rfc822", orcpt
        if not isAddressType(kind):  # (it goes into the next hop's RCPT as it is)
            raise bad("dsn", "orcpt: TYPE;address, TYPE an address type such as rfc822 or utf-8")
        orcpt = f"{kind};{mailbox('dsn', address)}"
    return notify, ret, envid, orcpt


def _switches(body: dict, now: float) -> list[tuple[str, str, str]]:
    """The options as (field, header, value), each read once by readOptions to check it."""
    found = []
    for name, header in SWITCHES.items():
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, bool):
            raise bad(name, "true or false")
        found.append((name, header, "true" if value else "false"))
    images = body.get("images")
    if images is not None:
        if images not in IMAGES:
            raise bad("images", f"one of {', '.join(IMAGES)}")
        found.append(("images", "X-Smtpeter-Images", images))
    tags = body.get("tags")
    if tags is not None:
        if isinstance(tags, str):
            tags = [t.strip() for t in tags.split(",") if t.strip()]
        if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
            raise bad("tags", "a list of tags (strings)")
        if len(tags) > MAX_TAGS:  # (before each is read)
            raise bad("tags", f"at most {MAX_TAGS} tags")
        if any("," in t or "\r" in t or "\n" in t for t in tags):
            raise bad("tags", "a tag holds no ',' and no line breaks")
        if tags:
            found.append(("tags", "X-Smtpeter-Tags", ", ".join(tags)))
    deadline = body.get("maxdelivertime")
    if deadline is not None:
        if not isinstance(deadline, str):
            raise bad("maxdelivertime", DELIVER_TIME_WHY)
        try:
            when = parseDeliverTime(deadline)
        except ValueError as e:
            raise bad("maxdelivertime", str(e)) from None
        if when <= now:
            raise bad("maxdelivertime", f"{deadline!r} is in the past (it is UTC)")
        found.append(("maxdelivertime", PREFIX + MAX_DELIVER_TIME, deadline.strip()))
    for name, header, value in found:
        checkOption(name, header, value)
    return found


def checkOption(field: str, header: str, value: str) -> None:
    """An C{X-Smtpeter-*} field read as the submission step will read it; a 400 naming C{field}."""
    try:
        readOptions([f"{header}: {value}\r\n".encode()], frozenset(), None)
    except SMTPRefusal as e:
        raise bad(field, e.reply.text.removeprefix("Message refused: ")) from None


def _extra(body: dict) -> list[tuple[str, str, str]]:
    value = body.get("extra")
    if value is None:
        return []
    if not isinstance(value, dict):
        raise bad("extra", 'an object of header fields, such as {"X-Campaign": "spring"}')
    if len(value) > MAX_EXTRA:
        raise bad("extra", f"at most {MAX_EXTRA} header fields")
    found = []
    for name, text in value.items():
        if not name.lower().startswith("x-"):
            raise bad("extra", f"{name[:100]!r}: only x-* header fields may be added")
        if name.lower().startswith(PREFIX):
            raise bad(
                "extra",
                f"{name[:100]!r}: give the gateway's options as their own fields (or in"
                " the header of a mime message)",
            )
        if not isinstance(text, str):
            raise bad("extra", f"{name[:100]}: the value is a string")
        found.append(("extra", name, text))
    return found


def _notInMime(fields: list[bytes], given: list[tuple[str, str, str]]) -> None:
    """A 400 for a field given that the mime's header has too (which would win is a guess)."""
    names = {raw.split(b":", 1)[0].strip().lower() for raw in fields}
    for field, name, _ in given:
        if name.lower().encode("ascii") in names:
            raise bad(field, f"the mime has a {name} field too; give it in one place")


def _fromMime(data: bytes) -> tuple[list[bytes], bytes]:
    try:
        return splitHeader(data)
    except HeaderError as e:
        raise bad("mime", f"the header does not parse: {e}") from None


def readSend(body: dict, maxRecipients: int, now: float) -> SendRequest:
    """
    The request C{body} asks (a JSON object), checked field by field.
    @raise HTTPError: C{400} naming the first field that is wrong.
    """
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise bad(unknown[0][:100], f"unknown field; allowed: {', '.join(FIELDS)}")
    if "mime" in body:
        given = [name for name in PARTS if name in body]
        if given:
            raise bad(given[0], "not with mime (the message is the mime given)")
    addresses = _recipients(body, maxRecipients)
    notify, ret, envid, orcpt = _dsn(body, addresses)
    recipients = tuple(Recipient(a, notify, orcpt) for a in addresses)
    raw = readUnsubscribe(body) + _extra(body)
    for field, name, value in raw:
        if name.lower().startswith(PREFIX):  # the gateway's own unsubscribe
            checkOption(field, name, value)
    options = _switches(body, now)
    envelope = body.get("envelope")
    mime = _text(body, "mime")
    if mime is not None:
        # Every line end CRLF, bare CRs too, as SMTP's DATA has them (no <CR>.<CR>).
        data = _ANY_ENDING.sub(b"\r\n", mime.encode("utf-8"))
        fields, _ = _fromMime(data)
        _notInMime(fields, raw + options)
        try:
            data = fitLines(data)
        except (Unfit, HeaderError) as e:
            raise bad("mime", str(e)) from None
        mimeFrom = [
            a
            for raw_ in fields
            if raw_.split(b":", 1)[0].strip().lower() == b"from"
            for _, a in getaddresses([raw_.split(b":", 1)[1].decode("utf-8", "replace")])
            if a
        ]
        if envelope is None and not mimeFrom:
            raise bad("envelope", "required: the mime has no From: address to take it from")
        sender = mimeFrom[0] if envelope is None else envelope
    else:
        if body.get("from") is None:
            raise bad("from", "required: the From: address, such as 'Shop <news@example.com>'")
        fromAddresses = _addresses("from", body["from"])
        if not fromAddresses:
            raise bad("from", "required: the From: address, such as 'Shop <news@example.com>'")
        parts = MessageParts(
            sender=body["from"],
            # (an empty list is no field: "To:" with nothing is not RFC 5322)
            to=body.get("to") or None,
            cc=body.get("cc") or None,
            replyto=body.get("replyto") or None,
            subject=_subject(body),
            text=_text(body, "text"),
            html=_text(body, "html"),
            attachments=readAttachments(body),
        )
        for name in ("to", "cc", "replyto"):
            if body.get(name) is not None:
                _addresses(name, body[name])
        try:
            data = compose(parts)
        except ComposeError as e:
            raise bad(e.field, e.reason) from None
        sender = fromAddresses[0] if envelope is None else envelope
    senderField = "from" if envelope is None else "envelope"
    sender = mailbox(senderField, sender)
    try:
        header = b"".join(rawField(name, value, field) for field, name, value in raw + options)
    except ComposeError as e:
        raise bad(e.field, e.reason) from None
    content = header + data
    return SendRequest(recipients, sender, senderField, content, ret, envid, not content.isascii())
