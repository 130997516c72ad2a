"""
A message's header section as raw fields: split from the body
(L{splitHeader}), and each field's name and value read (L{fieldName},
L{fieldValue}). The bytes of each field are kept as they came.
"""

from __future__ import annotations

import re

from ._exceptions import HeaderError

_FIELD_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e]+:")


def splitHeader(content: bytes) -> tuple[list[bytes], bytes]:
    """
    Split CRLF content into raw header fields (each with its continuation
    lines and CRLFs) and the rest (the empty line and the body).

    @raise HeaderError: the header section does not parse (RFC 5322 has no
        other reading of it), with a text that says where.
    """
    fields: list[bytes] = []
    position = 0
    lineNumber = 0
    while position < len(content):
        end = content.find(b"\r\n", position)
        end = len(content) if end < 0 else end + 2
        line = content[position:end]
        lineNumber += 1
        if line in (b"\r\n", b""):
            return fields, content[position:]
        if line[:1] in (b" ", b"\t"):
            if not fields:
                raise HeaderError("the header starts with a continuation line")
            fields[-1] += line
        elif _FIELD_NAME.match(line):
            fields.append(line)
        else:
            raise HeaderError(
                f"header line {lineNumber} is not a 'Name: value' field"
                " (is the empty line between header and body missing?)"
            )
        position = end
    if not fields:
        raise HeaderError("the message is empty")
    return fields, b""


def fieldName(raw: bytes) -> str:
    return raw.split(b":", 1)[0].decode("ascii").lower()


def fieldValue(raw: bytes) -> str:
    value = raw.split(b":", 1)[1]
    return re.sub(rb"\r\n[ \t]", b" ", value).strip().decode("utf-8", "replace")
