"""
Parsing of MAIL and RCPT arguments: RFC 5321 paths and the ESMTP parameters
we support (SIZE, BODY, AUTH; RFC 3461 RET, ENVID, NOTIFY, ORCPT).

Strict on purpose: source routes, bang paths and addresses without a domain
are refused rather than interpreted, so no address trick can make the
gateway route mail somewhere the envelope does not plainly say.
"""

from __future__ import annotations

import re

from attrs import frozen

from ._exceptions import AddressSyntaxError

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_STRING = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_QUOTED = r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"'
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = rf"{_LABEL}(?:\.{_LABEL})*"
_IPV4 = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}"
_LITERAL = rf"\[(?:{_IPV4}|IPv6:[0-9A-Fa-f:.]+)\]"
_MAILBOX = re.compile(rf"(?P<local>{_DOT_STRING}|{_QUOTED})@(?P<domain>{_DOMAIN}|{_LITERAL})")
_XTEXT = re.compile(r"(?:[\x21-\x2a\x2c-\x3c\x3e-\x7e]|\+[0-9A-F]{2})*")
_KEYWORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
_HELO = re.compile(rf"(?:{_DOMAIN}\.?|{_LITERAL})")


@frozen
class ParsedPath:
    address: str
    params: dict[str, str | None]


def isValidHelo(name: str) -> bool:
    return bool(_HELO.fullmatch(name)) and len(name) <= 255


def parseMailbox(text: str) -> str:
    """
    Validate one RFC 5321 mailbox and return it. Raise L{AddressSyntaxError}
    with a reason a person can act on.
    """
    if not text.isascii():
        raise AddressSyntaxError("non-ASCII addresses need SMTPUTF8, which is not offered")
    if text.startswith("@"):
        raise AddressSyntaxError("source routes are not accepted")
    if "@" not in text:
        if "!" in text:
            raise AddressSyntaxError("bang paths are not accepted; use user@domain")
        raise AddressSyntaxError("the address needs a domain: user@domain")
    match = _MAILBOX.fullmatch(text)
    if match is None:
        raise AddressSyntaxError(f"{text!r} is not a valid mailbox")
    if len(match["local"]) > 64 or len(match["domain"]) > 255:
        raise AddressSyntaxError("local part or domain too long")
    return text


def addressLiteral(mailbox: str) -> str | None:
    """
    The address of a mailbox whose domain is an address literal
    (C{192.0.2.1} for C{user@[192.0.2.1]}, C{::1} for C{user@[IPv6:::1]}),
    or C{None} for a domain name.
    """
    domain = mailbox.rpartition("@")[2]
    if not domain.startswith("["):
        return None
    literal = domain[1:-1]
    return literal[5:] if literal[:5].lower() == "ipv6:" else literal


def parsePath(argument: str, prefix: str, allowNull: bool) -> ParsedPath:
    """
    Parse C{FROM:<path> params} (or C{TO:}). The angle brackets are
    required, as RFC 5321 says; a single space after the colon is tolerated
    because many clients send one.
    """
    if argument[: len(prefix)].upper() != prefix:
        raise AddressSyntaxError(f"expected {prefix}<address>")
    rest = argument[len(prefix) :].lstrip(" ")
    if not rest.startswith("<"):
        raise AddressSyntaxError("the address must be in angle brackets")
    end = _closingBracket(rest)
    path, params = rest[1:end], rest[end + 1 :]
    if params and not params.startswith(" "):
        raise AddressSyntaxError("parameters must be separated by a space")
    if path == "":
        if not allowNull:
            raise AddressSyntaxError("an empty recipient is not allowed")
        address = ""
    else:
        if len(path) > 256:
            raise AddressSyntaxError("address too long")
        address = parseMailbox(path)
    return ParsedPath(address, parseParameters(params))


def _closingBracket(text: str) -> int:
    inQuote = escaped = False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\" and inQuote:
            escaped = True
        elif char == '"':
            inQuote = not inQuote
        elif char == ">" and not inQuote:
            return index
    raise AddressSyntaxError("missing closing '>'")


def parseParameters(text: str) -> dict[str, str | None]:
    params: dict[str, str | None] = {}
    for word in text.split():
        key, sep, value = word.partition("=")
        if not _KEYWORD.fullmatch(key):
            raise AddressSyntaxError(f"bad parameter {word!r}")
        key = key.upper()
        if key in params:
            raise AddressSyntaxError(f"parameter {key} given twice")
        params[key] = value if sep else None
    return params


def decodeXtext(value: str) -> str:
    """RFC 3461 xtext: C{+HH} escapes for everything outside printable ASCII."""
    if not _XTEXT.fullmatch(value):
        raise AddressSyntaxError("not valid xtext")
    return re.sub(r"\+([0-9A-F]{2})", lambda m: chr(int(m[1], 16)), value)


#: An RFC 3461 address type (C{rfc822}, C{utf-8}, C{x400}): what goes before
#: the C{;} of an ORCPT, written as it is into the next hop's RCPT command.
_ADDRESS_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,31}")


def isAddressType(kind: str) -> bool:
    """Is C{kind} an address type, safe to write into an SMTP command as it is?"""
    return _ADDRESS_TYPE.fullmatch(kind) is not None


def encodeXtext(value: str) -> str:
    return "".join(c if "!" <= c <= "~" and c not in "+=" else f"+{ord(c):02X}" for c in value)
