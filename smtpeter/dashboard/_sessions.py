"""
The dashboard's sessions and form tokens. A session is a signed cookie,
C{NAME.GENERATION.EXPIRY.ID.SIGNATURE} under a key drawn from the gateway's
secret, and a row in the database named by its C{ID}
(L{IDashboardSessionStore<smtpeter.store.IDashboardSessionStore>}): the
signature says the gateway issued it, the row that it has not ended.
Logging out deletes the row, so the cookie stops working in every worker
process and after a restart, while the user's other sessions go on. A
user's generation goes up when the password is reset, which ends every
session signed before.

Every form carries a CSRF token: the session's own signature under a
second purpose, so it needs no storage either. The log-in form, before
there is a session, pairs its token with a random cookie instead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from attrs import frozen
from twisted.internet.interfaces import IReactorTime

from ..store import ADMIN_ROLE as ADMIN

SESSION_COOKIE = b"smtpeter_session"
LOGIN_COOKIE = b"smtpeter_login"
#: How long a session lasts, in seconds.
LIFETIME = 12 * 3600


@frozen
class Signed:
    """What a session cookie says, its signature checked."""

    name: str
    generation: int
    #: The session's row in the store.
    id: str
    expires: int


@frozen
class Session:
    """Who is logged in, and the token that each of their forms carries."""

    name: str
    role: str
    csrf: str

    @property
    def mayChange(self) -> bool:
        return self.role == ADMIN


class Sessions:
    def __init__(self, secret: bytes, clock: IReactorTime) -> None:
        self._key = hmac.new(secret, b"smtpeter dashboard", hashlib.sha256).digest()
        self.clock = clock

    def _sign(self, purpose: str, text: str) -> str:
        return hmac.new(self._key, f"{purpose}\0{text}".encode(), hashlib.sha256).hexdigest()

    def issue(self, name: str, generation: int) -> str:
        """A new session's cookie value for the user (its row is the caller's to store)."""
        encoded = base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")
        expires = int(self.clock.seconds() + LIFETIME)
        body = f"{encoded}.{generation}.{expires}.{secrets.token_hex(16)}"
        return f"{body}.{self._sign('session', body)}"

    def read(self, value: str) -> Signed | None:
        """What a cookie's value was issued for, if it is signed and has not expired."""
        body, _, signature = value.rpartition(".")
        parts = body.split(".")
        if len(parts) != 4 or not hmac.compare_digest(signature, self._sign("session", body)):
            return None
        encoded, generation, expiry, id = parts
        if not generation.isdigit() or not expiry.isdigit() or not id:
            return None
        if int(expiry) <= self.clock.seconds():
            return None
        try:
            name = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return Signed(name, int(generation), id, int(expiry))

    def csrf(self, cookie: str) -> str:
        """The token every form of the session with this cookie carries."""
        return self._sign("csrf", cookie)[:32]

    def checkCSRF(self, cookie: str, token: str) -> bool:
        return bool(cookie) and hmac.compare_digest(token.encode(), self.csrf(cookie).encode())

    @staticmethod
    def loginCookie() -> str:
        """A random value for the log-in form's cookie (the form's token is its L{csrf})."""
        return secrets.token_hex(16)
