"""
From accepted content to stored content: the header section is checked,
C{x-smtpeter-*} fields are read into the message's L{Options} and removed,
and everything else is kept byte for byte.

Header names and values are the feature registry's (L{smtpeter.features}):
C{true/false} (also yes/no, on/off, 1/0) for each feature, a plugin's too,
C{x-smtpeter-images: hosted|inline|default} (C{default} is C{inline}), and
C{x-smtpeter-tags: a, b, c} (a tag holds no white space, C{;} or C{,}),
C{x-smtpeter-unsubscribe-mailto: address} (the sender's own, for the
C{unsubscribe} feature's C{List-Unsubscribe}) and
C{x-smtpeter-maxdelivertime: YYYY-MM-DD hh:mm:ss} (UTC; not delivered after it).
A header wins over the login's setting in both directions; a value the
registry cannot read refuses the message, naming the header.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import format_datetime

from attrs import evolve

from ..features import (
    IGNORE_SUPPRESSION,
    MAX_DELIVER_TIME,
    PREFIX,
    UNSUBSCRIBE_MAILTO,
    FeatureSpec,
    installedSpecs,
    isBuiltIn,
    parseDeliverTime,
    readMailto,
)
from ..message import Options, fieldName, fieldValue
from ..runtime import tokenHex
from ._exceptions import SMTPRefusal
from ._replies import BAD_OPTION

_TAG = re.compile(r"[^\x00-\x20\x7f,;\s]{1,100}")
MAX_TAGS = 20


def _switches() -> dict[str, FeatureSpec]:
    """Header name (without the prefix) -> the switch it is."""
    specs = installedSpecs()
    # A feature's own name is its header too where the registry names
    # another (x-smtpeter-hostedimages beside x-smtpeter-images).
    switches = {spec.name: spec for spec in specs}
    switches.update((spec.option, spec) for spec in specs)
    switches[IGNORE_SUPPRESSION.option] = IGNORE_SUPPRESSION
    return switches


def _read(spec: FeatureSpec, name: str, value: str) -> bool:
    try:
        return spec.read(value)
    except ValueError as e:
        raise SMTPRefusal(BAD_OPTION.format(detail=f"{name}: {e}")) from None


def readOptions(
    fields: list[bytes],
    loginFeatures: frozenset[str],
    login: str | None,
    publicUrl: str | None = None,
) -> tuple[list[bytes], Options]:
    """
    Take the C{x-smtpeter-*} fields out of C{fields} and apply them to the
    login's features. Return the remaining fields and the options.
    """
    features = set(loginFeatures)
    tags: list[str] = []
    extra: dict[str, str] = {}
    deadline: float | None = None
    kept = []
    switches = _switches()
    for raw in fields:
        name = fieldName(raw)
        if not name.startswith(PREFIX):
            kept.append(raw)
            continue
        option, value = name[len(PREFIX) :], fieldValue(raw)
        spec = switches.get(option)
        if spec is not None and isBuiltIn(spec.name):
            (features.add if _read(spec, name, value) else features.discard)(spec.name)
        elif spec is not None:
            # A plugin's switch, or one that is no feature: kept among the
            # instructions, as the one grammar read it.
            extra[spec.name] = "true" if _read(spec, name, value) else "false"
        elif name == UNSUBSCRIBE_MAILTO:
            try:
                extra[option] = readMailto(value)
            except ValueError as e:
                raise SMTPRefusal(BAD_OPTION.format(detail=f"{name}: {e}")) from None
        elif option == MAX_DELIVER_TIME:
            try:
                deadline = parseDeliverTime(value)
            except ValueError as e:
                raise SMTPRefusal(BAD_OPTION.format(detail=f"{name}: {e}")) from None
        elif option == "tags":
            for tag in (t.strip() for t in value.split(",")):
                if not tag:
                    continue
                if not _TAG.fullmatch(tag):
                    raise SMTPRefusal(
                        BAD_OPTION.format(
                            detail=f"tag {tag!r} is not allowed: at most 100 characters,"
                            " without white space, ';' or ','"
                        )
                    )
                if tag not in tags:
                    tags.append(tag)
            if len(tags) > MAX_TAGS:
                raise SMTPRefusal(BAD_OPTION.format(detail=f"at most {MAX_TAGS} tags"))
        else:
            # Unknown instructions are still instructions to us: never
            # forwarded, kept for features that plugins may add.
            extra[option] = value
    return kept, Options(
        frozenset(features), tuple(tags), login, extra, publicUrl, maxDeliverTime=deadline
    )


def completeHeader(
    fields: list[bytes], options: Options, hostname: str, now: float
) -> tuple[list[bytes], Options]:
    """
    Add the C{Message-ID} and C{Date} fields a message lacks (RFC 6409
    section 8.3; some mailbox providers refuse mail without a Message-ID),
    and note the message's Message-ID in its options.
    """
    names = {fieldName(raw): raw for raw in fields}
    added = []
    if "message-id" in names:
        messageId = fieldValue(names["message-id"])
    else:
        messageId = f"<{int(now)}.{tokenHex(8)}@{hostname}>"
        added.append(f"Message-ID: {messageId}\r\n".encode("ascii"))
    if "date" not in names:
        stamp = format_datetime(datetime.fromtimestamp(int(now), UTC))
        added.append(f"Date: {stamp}\r\n".encode("ascii"))
    return fields + added, evolve(options, messageId=messageId)
