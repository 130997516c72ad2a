"""
DKIM signing, last of all: a message whose From domain (or a parent of it)
has a key (C{smtpeter domain add}) is signed relaxed/relaxed with rsa-sha256
over RFC 6376's recommended header set and List-Unsubscribe-Post, with
From and the unsubscribe fields signed once more than they occur so that
none can be added (L{_dkimsign}). It runs last (order 1000), after the
C{unsubscribe} feature has added its fields. A message
without a From is sent unsigned, with a warning.
"""

from __future__ import annotations

import time
from email.utils import getaddresses

from twisted.logger import Logger

from ._base import Feature
from ._dkimsign import sign

log = Logger()


def fromDomain(headers) -> str | None:
    values = headers.get_all("from") or []
    addresses = [a for _, a in getaddresses([str(v) for v in values]) if "@" in a]
    if not addresses:
        return None
    return addresses[0].rpartition("@")[2].strip().lower() or None


class SignDKIM(Feature):
    name = "dkim"
    order = 1000

    def active(self, options) -> bool:
        return True

    def usable(self, environment) -> bool:
        return environment.keys is not None and environment.keys.hasKeys()

    def prepareMessage(self, draft) -> None:
        keys = draft.environment.keys
        if keys is None:
            return
        domain = fromDomain(draft.root.headers)
        if domain is None:
            draft.warn("the message has no From address, so it is not DKIM-signed")
            return
        key = keys.keyFor(domain)
        if key is not None:
            draft.state[self.name] = key

    def personalise(self, copy) -> None:
        key = copy.state.get(self.name)
        if key is None:
            return
        signature = sign(copy.content, key.selector, key.domain, key.privateKey, int(time.time()))
        copy.content = signature + copy.content
