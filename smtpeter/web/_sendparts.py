"""
The parts of a C{POST /v1/send} body that take the most checking: its
C{unsubscribe} (URLs and mailto addresses, or the gateway's own one-click
unsubscribe asked for) and its C{attachments} (base64 only: the gateway
fetches no URLs). Each mistake is a C{400} naming its field (L{bad}).
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
from typing import Any
from urllib.parse import urlsplit

from ..message import Attachment
from ..smtp import AddressSyntaxError, parseMailbox
from ._resources import HTTPError

#: The longest URL C{unsubscribe} takes (it goes on one header line).
MAX_URL = 900
#: The most attachments a message takes (each is a MIME part; making them
#: takes time that grows faster than their number).
MAX_ATTACHMENTS = 100
#: The header fields of the gateway's own one-click unsubscribe feature.
UNSUBSCRIBE = "X-Smtpeter-Unsubscribe"
UNSUBSCRIBE_MAILTO = "X-Smtpeter-Unsubscribe-Mailto"


def bad(field: str, reason: str) -> HTTPError:
    """The C{400} that names C{field} and says C{reason}."""
    return HTTPError(400, f"{field}: {reason}", parameter=field)


def mailbox(field: str, value: Any) -> str:
    """An envelope address, as RCPT and MAIL take it; a C{400} naming C{field} if not."""
    if not isinstance(value, str):
        raise bad(field, "an address, such as a@example.com, as a string")
    try:
        return parseMailbox(value.strip())
    except AddressSyntaxError as e:
        raise bad(field, f"{value[:100]!r}: {e}") from None


def _url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(value) > MAX_URL:
        raise bad(
            "unsubscribe",
            f"{value[:100]!r} is not an http(s) URL of at most {MAX_URL} characters",
        )
    if any(c in value for c in "<>, \t\r\n") or not value.isascii():
        raise bad("unsubscribe", f"{value[:100]!r}: a URL holds no spaces, commas or brackets")
    return value


def _mailto(value: str) -> str:
    """C{mailto:address}, for an address with or without C{mailto:} (and a C{?subject=})."""
    address = value[7:] if value.lower().startswith("mailto:") else value
    mailbox("unsubscribe", address.split("?", 1)[0])
    if any(c in address for c in "<>, \t\r\n") or not address.isascii() or len(address) > MAX_URL:
        raise bad("unsubscribe", f"{value[:100]!r} is not a mailto address")
    return f"mailto:{address}"


def readUnsubscribe(body: dict) -> list[tuple[str, str, str]]:
    """
    C{unsubscribe}: the sender's own C{List-Unsubscribe} (URLs, mailto
    addresses; with C{oneclick} and a URL, C{List-Unsubscribe-Post} too), or
    the gateway's one-click feature asked for (C{oneclick} without a URL),
    or turned off for this message (C{oneclick: false} alone).
    """
    value = body.get("unsubscribe")
    if value is None:
        return []
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"url", "email", "oneclick"})
        if unknown:
            raise bad("unsubscribe", f"{unknown[0][:100]}: unknown; allowed: url, email, oneclick")
        url, email, oneclick = value.get("url"), value.get("email"), value.get("oneclick", False)
        if not isinstance(oneclick, bool):
            raise bad("unsubscribe", "oneclick: true or false")
        if (
            url is not None
            and not isinstance(url, str)
            or email is not None
            and not isinstance(email, str)
        ):
            raise bad("unsubscribe", "url and email are strings")
        if url is None and not oneclick:
            if email is None:
                if "oneclick" in value:  # the login's feature turned off for this message
                    return [("unsubscribe", UNSUBSCRIBE, "false")]
                raise bad("unsubscribe", "give a url, an email, or oneclick: true or false")
            return [("unsubscribe", "List-Unsubscribe", f"<{_mailto(email)}>")]
        if url is None:
            found = [("unsubscribe", UNSUBSCRIBE, "true")]
            if email is not None:
                found.append(("unsubscribe", UNSUBSCRIBE_MAILTO, _mailto(email)[7:]))
            return found
        targets = [_url(url)] + ([_mailto(email)] if email is not None else [])
        found = [("unsubscribe", "List-Unsubscribe", ", ".join(f"<{t}>" for t in targets))]
        if oneclick:
            found.append(("unsubscribe", "List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        return found
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        raise bad("unsubscribe", "a URL, a mailto address, a list of them, or an object")
    targets = [
        _url(item) if item.lower().startswith(("http:", "https:")) else _mailto(item)
        for item in items
    ]
    return [("unsubscribe", "List-Unsubscribe", ", ".join(f"<{t}>" for t in targets))]


def readAttachments(body: dict) -> tuple[Attachment, ...]:
    value = body.get("attachments")
    if value is None:
        return ()
    if not isinstance(value, list):
        raise bad("attachments", "a list of {name, type, data} objects")
    if len(value) > MAX_ATTACHMENTS:
        raise bad("attachments", f"at most {MAX_ATTACHMENTS} attachments")
    found = []
    for item in value:
        if not isinstance(item, dict):
            raise bad("attachments", "each attachment is an object: {name, type, data}")
        if "url" in item:
            raise bad(
                "attachments",
                "the url form is not accepted: the gateway fetches no URLs (that would open"
                " a door to internal services); send the content, base64, as data",
            )
        unknown = sorted(set(item) - {"name", "type", "data"})
        if unknown:
            raise bad("attachments", f"{unknown[0][:100]}: unknown; allowed: name, type, data")
        name, kind, data = item.get("name"), item.get("type"), item.get("data")
        if not isinstance(name, str) or not name or len(name) > 255:
            raise bad("attachments", "name: a file name of 1 to 255 characters")
        if kind is None:
            kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if not isinstance(kind, str):
            raise bad("attachments", "type: a MIME type such as application/pdf")
        if not isinstance(data, str):
            raise bad("attachments", f"{name[:100]}: data: the content, base64")
        try:
            content = base64.b64decode("".join(data.split()), validate=True)
        except (binascii.Error, ValueError):
            raise bad("attachments", f"{name[:100]}: data is not base64") from None
        found.append(Attachment(name, kind, content))
    return tuple(found)
