"""
AUTH through twisted.cred: a checker over the login store, a realm whose
avatar is the authenticated sender (the policy the session then applies),
and the per-address throttle against password guessing.
"""

from __future__ import annotations

from datetime import timedelta

from attrs import define, field, frozen
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import IUsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import IRealm, Portal
from twisted.internet.defer import ensureDeferred
from twisted.internet.interfaces import IReactorTime
from zope.interface import Attribute, Interface, implementer

from ..config import default
from ..runtime import clientKey
from ..store import REFUSE, IAuthFailureStore, ILoginStore, Limit, LoginRecord, MemoryAuthFailures


class ISender(Interface):
    """The avatar of an authenticated SMTP session: the policy it applies."""

    login = Attribute("The login's name (a str).")
    features = Attribute("The features the login turns on (a frozenset of their names).")
    publicUrl = Attribute("The login's public URL for links and images, or None for the default.")
    hold = Attribute("True if the login holds its mail: accepted and kept, never delivered.")
    limited = Attribute("True if its recipients are counted (it has a rate or a quota).")
    rate = Attribute("Its rate of recipients (a Limit), or None.")
    quota = Attribute("Its quota of recipients (a Limit), or None.")
    overQuota = Attribute("What comes of mail over the quota: 'refuse' or 'hold'.")
    senderDomains = Attribute("The domains its senders must be in (a tuple); empty: any.")


@implementer(ISender)
@frozen
class AuthenticatedSender:
    """
    Who is sending, and the features their login turns on; the session
    combines these with the message's C{x-smtpeter-*} headers.
    """

    login: str
    features: frozenset[str]
    publicUrl: str | None = None
    #: The login holds its mail (hold mode): accepted and kept, never delivered.
    hold: bool = False
    #: Its rate and quota of recipients, if it has them (L{SendingLimits}).
    rate: Limit | None = None
    quota: Limit | None = None
    overQuota: str = REFUSE
    #: The domains its senders must be in; none: any.
    senderDomains: tuple[str, ...] = ()

    @property
    def limited(self) -> bool:
        """Whether its recipients are counted (it has a rate or a quota)."""
        return self.rate is not None or self.quota is not None


@implementer(ICredentialsChecker)
@define
class LoginChecker:
    """Checks AUTH PLAIN / AUTH LOGIN credentials against the login store."""

    store: ILoginStore
    credentialInterfaces = (IUsernamePassword,)

    def requestAvatarId(self, credentials):
        return ensureDeferred(self._check(credentials))

    async def _check(self, credentials) -> LoginRecord:
        name = credentials.username
        password = credentials.password
        if isinstance(name, bytes):
            name = name.decode("utf-8")
        if isinstance(password, bytes):
            password = password.decode("utf-8")
        record = await self.store.authenticate(name, password)
        if record is None:
            raise UnauthorizedLogin()
        return record


def senderFor(record: LoginRecord) -> AuthenticatedSender:
    """The policy a login applies to what it sends (by SMTP, or the REST API)."""
    return AuthenticatedSender(
        record.name,
        record.features,
        record.publicUrl,
        record.hold,
        record.rate,
        record.quota,
        record.overQuota,
        record.senderDomains,
    )


@implementer(IRealm)
class SenderRealm:
    # Twisted types avatar ids as bytes; LoginChecker gives the whole record.
    def requestAvatar(self, avatarId: LoginRecord, mind, *interfaces):  # type: ignore[override]
        if ISender not in interfaces:
            raise NotImplementedError("only ISender avatars")
        return (ISender, senderFor(avatarId), lambda: None)


def makePortal(store: ILoginStore) -> Portal:
    return Portal(SenderRealm(), [LoginChecker(store)])


@define
class AuthThrottle:
    """
    Slows down and then refuses password guessing, per client (its
    L{clientKey}: an IPv6 client's /64).

    Each failed AUTH is answered after a delay that grows with the recent
    failures from that address (C{delays}: 2, 4, 8, 15 s by default, as
    Dovecot does). After C{limit} failures within C{window}, the address is
    refused AUTH for C{banFor} (fail2ban's postfix-sasl policy: 5 in
    10 minutes, banned 10 minutes). A success does not erase earlier
    failures. The counting is C{store}'s: with the database, every worker
    process counts the same failures.

    Every attempt is counted before what its password check found is acted
    on or told (L{settle}), in one step that orders every worker's
    attempts: however many come at once, no more than C{limit} failures are
    told before the address is banned, and the attempts after them are
    refused whatever their password. A right password takes no place, so
    an application that opens many connections at once from one address
    is not held up.
    """

    clock: IReactorTime
    delays: tuple[float, ...] = default("authFailureDelays")
    store: IAuthFailureStore = field(factory=MemoryAuthFailures)
    limit: int = 5
    window: timedelta = timedelta(minutes=10)
    banFor: timedelta = timedelta(minutes=10)

    @staticmethod
    def key(address: str, scope: str = "") -> str:
        """What the store counts for C{address}: its L{clientKey}, after C{scope} if any."""
        return f"{scope} {clientKey(address)}" if scope else clientKey(address)

    async def isBanned(self, address: str, scope: str = "") -> bool:
        """
        @param scope: counted apart from other scopes' failures (the
            dashboard's log-ins from SMTP's AUTH).
        """
        key = self.key(address, scope)
        return await self.store.authBannedUntil(key, self.clock.seconds()) is not None

    async def settle(self, address: str, succeeded: bool, scope: str = "") -> float | None:
        """
        Count an attempt whose password was checked, before acting on what
        the check found or telling the client. @return: C{None}: refuse it
        as banned, whatever the check found; else how many seconds to wait
        before answering (none for a success).
        """
        recent = await self.store.settleAuthAttempt(
            self.key(address, scope),
            self.clock.seconds(),
            self.window.total_seconds(),
            self.limit,
            self.banFor.total_seconds(),
            not succeeded,
        )
        if recent is None:
            return None
        return 0.0 if succeeded else self._delay(recent)

    async def recordFailure(self, address: str) -> float:
        """Note a failure; return how many seconds to wait before answering it."""
        recent = await self.store.recordAuthFailure(
            self.key(address),
            self.clock.seconds(),
            self.window.total_seconds(),
            self.limit,
            self.banFor.total_seconds(),
        )
        return self._delay(recent)

    def _delay(self, recent: int) -> float:
        if not self.delays:
            return 0.0
        return self.delays[min(recent, len(self.delays)) - 1]
