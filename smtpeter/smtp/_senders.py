"""
A login's sender domains: the envelope sender (at MAIL) and every From:
address (after DATA) must be in one of them or under it; a login without
any may send as anyone.
"""

from __future__ import annotations

from email.utils import getaddresses

from ..store import inSenderDomains
from . import _replies as R
from ._exceptions import SMTPRefusal


def checkEnvelopeSender(address: str, domains: tuple[str, ...]) -> None:
    """
    @raise SMTPRefusal: 550 5.7.1 naming C{address}, outside C{domains}.
    The null sender (C{<>}, for notices) has no domain: its From: decides.
    """
    if domains and address and not inSenderDomains(address, domains):
        raise SMTPRefusal(R.SENDER_NOT_ALLOWED.format(address=address))


def checkFromHeader(fields: list[bytes], domains: tuple[str, ...]) -> None:
    """
    @param fields: the message's header fields, raw (L{splitHeader<smtpeter.
        message.splitHeader>}).
    @raise SMTPRefusal: 550 5.7.1 naming the first From: address outside
        C{domains}, or a From: that holds no address at all.
    """
    if not domains:
        return
    for raw in fields:
        name, _, value = raw.partition(b":")
        if name.strip().lower() != b"from":
            continue
        text = " ".join(value.decode("utf-8", "replace").split())
        addresses = [address for _, address in getaddresses([text]) if address]
        if not addresses:
            raise SMTPRefusal(R.FROM_UNREADABLE.format(value=repr(text[:100])))
        for address in addresses:
            if not inSenderDomains(address, domains):
                raise SMTPRefusal(R.FROM_NOT_ALLOWED.format(address=address[:200]))
