"""
SMTP logins in SQLite, synchronously. The admin CLI calls this directly; the
gateway calls it through L{SQLiteStore<smtpeter.store.SQLiteStore>}: checks
in its reading threads, the row's bookkeeping through its writer.

Each call reads the database afresh, so a change made with the CLI is seen
by the running gateway at the next AUTH, without a restart.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from attrs import evolve, field, frozen
from twisted.logger import Logger

from ..features import knownFeatures
from ..runtime import checkPublicUrl
from ._changes import changed
from ._engine import Connection
from ._engines import Conflict, DatabaseError
from ._exceptions import Invalid, LoginExists, NoSuchLogin, UnknownFeature
from ._limits import (
    QUOTA_PERIODS,
    RATE_PERIODS,
    REFUSE,
    Limit,
    checkOverQuota,
    checkSenderDomains,
    parseLimit,
)
from ._passwords import (
    DUMMY_HASH,
    generatePassword,
    hashPassword,
    needsUpgrade,
    verifyPassword,
)

_COLUMNS = (
    "name, password_hash, enabled, features, created, last_used, public_url, hold,"
    " rate, quota, over_quota, sender_domains"
)

#: C{last_used} is written at most this often per login (seconds): it is
#: shown to people, and a write (an fsync) per AUTH would cost more than the
#: AUTH itself.
LAST_USED_RESOLUTION = 60.0
log = Logger()


@frozen
class LoginRecord:
    """One SMTP login as stored, without anything that could reveal its password."""

    name: str
    enabled: bool
    features: frozenset[str]
    created: float
    lastUsed: float | None
    passwordHash: str = field(repr=False, eq=False)
    #: The login's own click domain (a CNAME to the gateway), if it has one.
    publicUrl: str | None = None
    #: Hold mode: its mail is accepted and kept, never delivered (for development).
    hold: bool = False
    #: At most this many recipients a minute or an hour (L{smtpeter.store._limits}).
    rate: Limit | None = None
    #: At most this many recipients a day or a month.
    quota: Limit | None = None
    #: Over its quota its mail is refused, or accepted and held (C{refuse}, C{hold}).
    overQuota: str = REFUSE
    #: Its senders (envelope and From:) must be in these domains; none: any sender.
    senderDomains: tuple[str, ...] = ()

    def toJSON(self) -> dict:
        return {
            "name": self.name,
            "enabled": self.enabled,
            "features": sorted(self.features),
            "created": self.created,
            "last_used": self.lastUsed,
            "public_url": self.publicUrl,
            "hold": self.hold,
            "rate": None if self.rate is None else str(self.rate),
            "quota": None if self.quota is None else str(self.quota),
            "over_quota": self.overQuota,
            "sender_domains": list(self.senderDomains),
        }


def judge(
    record: LoginRecord | None, password: str, now: float
) -> tuple[LoginRecord | None, tuple | None]:
    """
    C{record} if it is an enabled login and this is its password, else
    C{None}; and the change its row needs (for L{LoginStore.apply}), if
    any: a new C{last_used} (written at most once a minute), or a hash from
    an earlier version replaced by the fast kind. Costs one hash whether or
    not there is a login (microseconds; an scrypt hash from an earlier
    version ~0.1 s until it is replaced).
    """
    ok = verifyPassword(password, record.passwordHash if record else DUMMY_HASH)
    if record is None or not ok or not record.enabled:
        return None, None
    if needsUpgrade(record.passwordHash):
        record = evolve(record, passwordHash=hashPassword(password))
        return record, (record.name, now, record.passwordHash)
    if record.lastUsed is None or now - record.lastUsed >= LAST_USED_RESOLUTION:
        return record, (record.name, now, None)
    return record, None


def checkFeatures(features: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(features)
    if not chosen:
        return chosen
    known = knownFeatures()
    unknown = sorted(chosen - set(known))
    if unknown:
        raise UnknownFeature(unknown, known)
    return chosen


class LoginStore:
    """Synchronous access to the C{logins} table."""

    def __init__(self, db: Connection, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    def _row(self, row: tuple) -> LoginRecord:
        name, pwhash, enabled, features, created, lastUsed, publicUrl, hold, *limits = row
        rate, quota, overQuota, senderDomains = limits
        return LoginRecord(
            name,
            bool(enabled),
            frozenset(json.loads(features)),
            created,
            lastUsed,
            pwhash,
            publicUrl,
            bool(hold),
            parseLimit(rate, "rate", RATE_PERIODS),
            parseLimit(quota, "quota", QUOTA_PERIODS),
            overQuota,
            tuple(json.loads(senderDomains)),
        )

    def get(self, name: str) -> LoginRecord | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM logins WHERE name = ?", (name,)).fetchone()
        return None if row is None else self._row(row)

    def require(self, name: str) -> LoginRecord:
        record = self.get(name)
        if record is None:
            raise NoSuchLogin(name)
        return record

    def list(self) -> list[LoginRecord]:
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM logins ORDER BY name").fetchall()
        return [self._row(r) for r in rows]

    def count(self) -> int:
        return self._db.execute("SELECT count(*) FROM logins").fetchone()[0]

    def create(
        self, name: str, features: Iterable[str], hold: bool = False, **limits
    ) -> tuple[LoginRecord, str]:
        """
        Create a login; return it with its new password (the only time it
        is known). C{limits}: those of L{setLimits}, checked before it is made.
        """
        if not name or not name.isprintable() or " " in name or len(name) > 200:
            raise Invalid(
                "name", "a login name is 1 to 200 characters without spaces or control characters"
            )
        chosen = checkFeatures(features)
        limits = {k: v for k, v in limits.items() if v is not None}
        parseLimit(limits.get("rate"), "rate", RATE_PERIODS)
        parseLimit(limits.get("quota"), "quota", QUOTA_PERIODS)
        checkOverQuota(limits.get("overQuota", REFUSE))
        checkSenderDomains(limits.get("senderDomains", ()))
        password = generatePassword()
        record = LoginRecord(
            name, True, chosen, self._clock(), None, hashPassword(password), hold=hold
        )
        try:
            self._db.execute(
                "INSERT INTO logins (name, password_hash, enabled, features, created, hold)"
                " VALUES (?, ?, 1, ?, ?, ?)",
                (name, record.passwordHash, json.dumps(sorted(chosen)), record.created, hold),
            )
        except Conflict:
            raise LoginExists(name)
        changed(self._db, "logins")
        if limits:
            record = evolve(self.setLimits(name, **limits), passwordHash=record.passwordHash)
        return record, password

    def update(
        self,
        name: str,
        enable: Iterable[str] = (),
        disable: Iterable[str] = (),
        publicUrl: str | None = None,
    ) -> LoginRecord:
        """
        Turn features on and off; set the login's click domain with
        C{publicUrl} (C{""} puts it back to the gateway's own).
        """
        record = self.require(name)
        features = (record.features | checkFeatures(enable)) - checkFeatures(disable)
        if publicUrl is not None:
            try:
                publicUrl = checkPublicUrl(publicUrl) if publicUrl else None
                _ = urlsplit(publicUrl or "").port  # a port out of range is a ValueError
            except ValueError as e:
                raise Invalid("public_url", str(e)) from e
            record = evolve(record, publicUrl=publicUrl)
        self._db.execute(
            "UPDATE logins SET features = ?, public_url = ? WHERE name = ?",
            (json.dumps(sorted(features)), record.publicUrl, name),
        )
        changed(self._db, "logins")
        return evolve(record, features=features)

    def setHold(self, name: str, hold: bool) -> LoginRecord:
        record = self.require(name)
        self._db.execute("UPDATE logins SET hold = ? WHERE name = ?", (int(hold), name))
        changed(self._db, "logins")
        return evolve(record, hold=hold)

    def setLimits(
        self,
        name: str,
        rate: str | None = None,
        quota: str | None = None,
        overQuota: str | None = None,
        senderDomains: Iterable[str] | None = None,
    ) -> LoginRecord:
        """
        Change what is given: C{rate} (C{N/minute}, C{N/hour}) and C{quota}
        (C{N/day}, C{N/month}), C{none} lifting either; C{overQuota}
        (C{refuse} or C{hold}); C{senderDomains} replaces the domains
        (C{none}, or no domain, for any sender).
        """
        record = self.require(name)
        if rate is not None:
            record = evolve(record, rate=parseLimit(rate, "rate", RATE_PERIODS))
        if quota is not None:
            record = evolve(record, quota=parseLimit(quota, "quota", QUOTA_PERIODS))
        if overQuota is not None:
            record = evolve(record, overQuota=checkOverQuota(overQuota))
        if senderDomains is not None:
            record = evolve(record, senderDomains=checkSenderDomains(senderDomains))
        self._db.execute(
            "UPDATE logins SET rate = ?, quota = ?, over_quota = ?, sender_domains = ?"
            " WHERE name = ?",
            (
                None if record.rate is None else str(record.rate),
                None if record.quota is None else str(record.quota),
                record.overQuota,
                json.dumps(list(record.senderDomains)),
                name,
            ),
        )
        changed(self._db, "logins")
        return record

    def setEnabled(self, name: str, enabled: bool) -> LoginRecord:
        record = self.require(name)
        self._db.execute("UPDATE logins SET enabled = ? WHERE name = ?", (int(enabled), name))
        changed(self._db, "logins")
        return evolve(record, enabled=enabled)

    def resetPassword(self, name: str) -> tuple[LoginRecord, str]:
        record = self.require(name)
        password = generatePassword()
        pwhash = hashPassword(password)
        self._db.execute("UPDATE logins SET password_hash = ? WHERE name = ?", (pwhash, name))
        changed(self._db, "logins")
        return evolve(record, passwordHash=pwhash), password

    def delete(self, name: str) -> None:
        """Delete the login; of several deleting it at once, only one succeeds."""
        if not self._db.execute("DELETE FROM logins WHERE name = ?", (name,)).rowcount:
            raise NoSuchLogin(name)
        changed(self._db, "logins")

    def check(
        self, name: str, password: str, now: float
    ) -> tuple[LoginRecord | None, tuple | None]:
        """L{judge} of the login's row as it is now. Reads only."""
        return judge(self.get(name), password, now)

    def apply(self, update: tuple) -> None:
        """
        Write what L{check} said a login's row needs: C{(name, now, hash)},
        C{now} C{None} to replace the hash without noting a use.
        """
        name, now, passwordHash = update
        if passwordHash is None:
            self._db.execute("UPDATE logins SET last_used = ? WHERE name = ?", (now, name))
        elif now is None:  # a new hash, and no use to note (yet)
            self._db.execute(
                "UPDATE logins SET password_hash = ? WHERE name = ?", (passwordHash, name)
            )
            changed(self._db, "logins")
        else:
            self._db.execute(
                "UPDATE logins SET password_hash = ?, last_used = ? WHERE name = ?",
                (passwordHash, now, name),
            )
            changed(self._db, "logins")

    def authenticate(self, name: str, password: str) -> LoginRecord | None:
        """
        L{check} and L{apply} at once, for the CLI and tests; bookkeeping that
        fails (a full disk) is logged and never decides the answer.
        """
        record, update = self.check(name, password, self._clock())
        if update is not None:
            try:
                self.apply(update)
            except DatabaseError as e:
                log.warn("could not note the use of login {name}: {error}", name=name, error=str(e))
        return record
