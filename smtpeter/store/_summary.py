"""
What a message's record keeps for search, beside its envelope: its
Subject and From header fields (decoded), its size and its login.
"""

from __future__ import annotations

import re
from email.header import decode_header, make_header

_FIELD = re.compile(rb"^(subject|from):[ \t]*([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", re.I | re.M)


def _decoded(raw: bytes) -> str:
    """A header field's value: unfolded, RFC 2047 words decoded, at most 500 characters."""
    text = " ".join(raw.decode("utf-8", "replace").split())
    if "=?" in text:
        try:
            text = str(make_header(decode_header(text)))
        except (ValueError, LookupError, UnicodeError):
            pass  # shown as sent
    return text[:500]


def summary(message) -> dict:
    """What a message record keeps for search: Subject, From (decoded), size, login."""
    content = message.content
    head = getattr(content, "head", None)
    if head is None:
        end = content.find(b"\r\n\r\n")
        head = content[: end + 2] if end >= 0 else content
    found: dict[str, str] = {}
    for match in _FIELD.finditer(head):
        found.setdefault(match.group(1).lower().decode(), _decoded(match.group(2)))
    return {
        "subject": found.get("subject"),
        "from": found.get("from"),
        "size": len(content),
        "login": message.options.login,
    }
