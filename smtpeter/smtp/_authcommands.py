"""
AUTH PLAIN and AUTH LOGIN (RFC 4954) for the submission session: only after
TLS, once per session, outside a transaction, through the cred portal, with
the per-address throttle slowing failures down.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Coroutine
from typing import Any, cast

from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.task import deferLater
from twisted.logger import Logger

from ..runtime import AUTH_FAILURES
from . import _replies as R
from ._auth import ISender
from ._exceptions import SMTPRefusal
from ._state import SessionState

log = Logger()


class AuthCommands(SessionState):
    """The AUTH command; mixed into L{SubmissionServer}, whose state it uses."""

    def smtp_AUTH(self, argument: str) -> Coroutine[Any, Any, None]:
        if not self.secure:
            self._refuse(R.ENCRYPTION_REQUIRED)
        if self.helo is None:
            self._refuse(R.BAD_SEQUENCE.format(detail="send EHLO first"))
        if self.sender is not None:
            self._refuse(R.BAD_SEQUENCE.format(detail="already authenticated"))
        if self.mailFrom is not None:
            self._refuse(R.BAD_SEQUENCE.format(detail="AUTH not allowed during a mail transaction"))
        mechanism, _, initial = argument.strip().partition(" ")
        mechanism = mechanism.upper()
        if not mechanism:
            self._refuse(R.SYNTAX_ERROR.format(detail="AUTH mechanism [initial-response]"))
        if mechanism not in ("PLAIN", "LOGIN"):
            self._refuse(R.UNKNOWN_MECHANISM)
        return self._start(mechanism, initial)

    async def _start(self, mechanism: str, initial: str) -> None:
        if await self.settings.throttle.isBanned(self.peer):
            AUTH_FAILURES.labels("throttled").inc()
            raise SMTPRefusal(R.AUTH_THROTTLED)
        if mechanism == "PLAIN":
            if initial:
                return await self._authPlain(initial.encode("ascii"))
            return self._challenge(b"", self._authPlain)
        if initial:
            return await self._authLoginUser(initial.encode("ascii"))
        return self._challenge(b"Username:", self._authLoginUser)

    def _challenge(
        self, prompt: bytes, continuation: Callable[[bytes], Coroutine[Any, Any, None]]
    ) -> None:
        self.send(b"334 " + base64.b64encode(prompt) + b"\r\n")
        self._authContinuation = continuation

    def _decode(self, response: bytes) -> bytes:
        if response.strip() == b"*":
            raise SMTPRefusal(R.AUTH_CANCELLED)
        if response == b"=":
            return b""
        try:
            return base64.b64decode(response, validate=True)
        except (binascii.Error, ValueError):
            raise SMTPRefusal(R.BAD_BASE64)

    def _text(self, credential: bytes) -> str:
        try:
            return credential.decode("utf-8")
        except UnicodeDecodeError:
            raise SMTPRefusal(R.SYNTAX_ERROR.format(detail="credentials must be UTF-8"))

    async def _authPlain(self, response: bytes) -> None:
        decoded = self._decode(response)
        parts = decoded.split(b"\x00")
        if len(parts) != 3:
            raise SMTPRefusal(
                R.SYNTAX_ERROR.format(detail="PLAIN needs authzid\\0authcid\\0password")
            )
        authzid, authcid, password = (self._text(p) for p in parts)
        if authzid and authzid != authcid:
            raise SMTPRefusal(R.AUTH_AUTHZID_REFUSED)
        await self._login(authcid, password)

    async def _authLoginUser(self, response: bytes) -> None:
        user = self._text(self._decode(response))

        async def password(response: bytes) -> None:
            await self._login(user, self._text(self._decode(response)))

        self._challenge(b"Password:", password)

    async def _login(self, user: str, password: str) -> None:
        avatar: ISender | None
        try:
            # Twisted's stubs say bytes; LoginChecker takes str as well.
            _, found, _ = await self.settings.portal.login(
                UsernamePassword(user, password),  # type: ignore[arg-type]
                None,
                ISender,
            )
            avatar = cast(ISender, found)  # what SenderRealm gives for ISender
        except UnauthorizedLogin:
            avatar = None
        # Counted before anyone acts on it: of any number of connections
        # trying at once, in whichever workers, no more failures are told
        # than the limit; those after it are refused, right or wrong alike.
        delay = await self.settings.throttle.settle(self.peer, avatar is not None)
        if delay is None:
            AUTH_FAILURES.labels("throttled").inc()
            raise SMTPRefusal(R.AUTH_THROTTLED)
        if avatar is None:
            AUTH_FAILURES.labels("refused").inc()
            log.info("{peer} failed AUTH as {user!r}", peer=self.peer, user=user[:100])
            if delay:
                await deferLater(self.settings.clock, delay, lambda: None)
            raise SMTPRefusal(R.AUTH_FAILED)
        # Not logged: the line for each message queued names the login, and a
        # line per AUTH was a third of the log (and of its cost) at one
        # message per connection. Failures are logged, above.
        if self.settings.logins is not None:
            # Only now is it a use: a right password refused above is none.
            self.settings.logins.noteLoginUse(avatar.login)
        self.sender = avatar
        self.reply(R.AUTH_OK)
