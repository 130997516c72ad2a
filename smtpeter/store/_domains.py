"""
Sender domains and their DKIM keys, in the data directory's database.

A domain has one active key (the one that signs) and may keep retired ones
after a rotation, so their DNS records can be left up until mail signed with
them has been read. Keys are RSA-2048 made here, or imported PEM files.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Callable

from attrs import field, frozen
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from twisted.logger import Logger

from ._engine import Connection
from ._engines import DatabaseError, transaction
from ._exceptions import BadKey, DomainExists, Exists, Invalid, NoSuchDomain

log = Logger()

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def checkDomain(domain: str, address: bool = False) -> str:
    """C{domain}, written as stored; an C{address} (C{1.2.3.4}) too if asked (to delete one)."""
    domain = domain.strip().rstrip(".").lower()
    labels = domain.split(".")
    if (
        len(domain) > 253
        or len(labels) < 2
        or not all(_LABEL.fullmatch(label) for label in labels)
        or (labels[-1].isdigit() and not address)  # (no top-level domain is all digits)
    ):
        raise Invalid("domain", f"{domain[:100]!r} is not a domain name (like example.com)")
    return domain


def checkSelector(selector: str) -> str:
    selector = selector.strip().lower()
    if len(selector) > 253 or not all(_LABEL.fullmatch(label) for label in selector.split(".")):
        raise Invalid(
            "selector", f"{selector[:100]!r} is not a selector: letters, digits, '-' and '.'"
        )
    return selector


@frozen
class DomainKey:
    domain: str
    selector: str
    privateKey: bytes = field(repr=False)
    created: float
    active: bool

    @property
    def name(self) -> str:
        """The DNS name of the TXT record."""
        return f"{self.selector}._domainkey.{self.domain}"

    @property
    def txt(self) -> str:
        """The TXT record's value."""
        key = serialization.load_pem_private_key(self.privateKey, None)
        der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode('ascii')}"

    def toJSON(self) -> dict:
        return {
            "domain": self.domain,
            "selector": self.selector,
            "name": self.name,
            "txt": self.txt,
            "active": self.active,
            "created": self.created,
        }


def newPrivateKey() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def readPrivateKey(pem: bytes) -> bytes:
    """Check an imported key: an unencrypted RSA private key of 1024 bits or more."""
    try:
        key = serialization.load_pem_private_key(pem, None)
    except (ValueError, TypeError) as e:
        raise BadKey(f"not an unencrypted PEM private key ({e})") from e
    if not isinstance(key, rsa.RSAPrivateKey):
        raise BadKey("only RSA keys are supported for DKIM signing")
    if key.key_size < 1024:
        raise BadKey(f"a {key.key_size}-bit key is too short: use 2048 bits")
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class DomainStore:
    """Synchronous access to the C{dkim_keys} table."""

    def __init__(self, db: Connection, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    def _keys(self, where: str = "", args: tuple = ()) -> list[DomainKey]:
        rows = self._db.execute(
            "SELECT domain, selector, private_key, created, active FROM dkim_keys"
            f" {where} ORDER BY domain, active DESC, created DESC",
            args,
        ).fetchall()
        return [DomainKey(d, s, k.encode("ascii"), c, bool(a)) for d, s, k, c, a in rows]

    def list(self) -> list[DomainKey]:
        return self._keys()

    def active(self, domain: str) -> DomainKey | None:
        found = self._keys("WHERE domain = ? AND active = 1", (domain,))
        return found[0] if found else None

    def _newSelector(self, domain: str) -> str:
        base = "smtpeter" + time.strftime("%Y%m%d", time.gmtime(self._clock()))
        taken = {k.selector for k in self._keys("WHERE domain = ?", (domain,))}
        selector, n = base, 1
        while selector in taken:
            n += 1
            selector = f"{base}-{n}"
        return selector

    def _insert(
        self, domain: str, selector: str | None, pem: bytes, replace: bool | None
    ) -> DomainKey:
        """C{replace}: must the domain exist (True), must it not (False), either (None)."""
        domain = checkDomain(domain)
        selector = checkSelector(selector) if selector else self._newSelector(domain)
        with transaction(self._db):
            current = self.active(domain)
            if current is not None and replace is False:
                raise DomainExists(domain)
            if current is None and replace is True:
                raise NoSuchDomain(domain)
            if any(k.selector == selector for k in self._keys("WHERE domain = ?", (domain,))):
                raise Exists(f"{domain} already has a key with selector {selector!r}")
            self._db.execute("UPDATE dkim_keys SET active = 0 WHERE domain = ?", (domain,))
            key = DomainKey(domain, selector, pem, self._clock(), True)
            self._db.execute(
                "INSERT INTO dkim_keys (domain, selector, private_key, created, active)"
                " VALUES (?, ?, ?, ?, 1)",
                (domain, selector, pem.decode("ascii"), key.created),
            )
        return key

    def add(self, domain: str, selector: str | None = None) -> DomainKey:
        """Make a key for a new domain."""
        return self._insert(domain, selector, newPrivateKey(), False)

    def importKey(self, domain: str, pem: bytes, selector: str) -> DomainKey:
        """Install an own key; for a known domain it becomes the active one."""
        return self._insert(domain, selector, readPrivateKey(pem), None)

    def rotate(self, domain: str, selector: str | None = None) -> DomainKey:
        """A new active key; the old one is kept, retired, until deleted."""
        return self._insert(domain, selector, newPrivateKey(), True)

    def delete(self, domain: str) -> int:
        domain = checkDomain(domain, address=True)  # one taken before addresses were refused
        count = self._db.execute("DELETE FROM dkim_keys WHERE domain = ?", (domain,)).rowcount
        if not count:
            raise NoSuchDomain(domain)
        return count


class DomainKeys:
    """
    The active keys, as the signer looks them up per message: read again
    at most every C{ttl} seconds, so 'smtpeter domain ...' takes effect
    within that time without a restart. Thread-safe.
    """

    def __init__(
        self, store: DomainStore, ttl: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._store = store
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._loaded = -float("inf")
        self._keys: dict[str, DomainKey] = {}

    def _current(self) -> dict[str, DomainKey]:
        with self._lock:
            if self._clock() - self._loaded > self._ttl:
                try:
                    self._keys = {k.domain: k for k in self._store.list() if k.active}
                except DatabaseError as e:
                    if self._loaded == -float("inf"):
                        raise  # nothing read yet: nothing to sign with
                    # The database away (PostgreSQL restarting): sign with the
                    # keys read last, and read them again after another ttl.
                    log.warn(
                        "could not read the DKIM keys ({error}); using those read before",
                        error=str(e).strip().splitlines()[0] if str(e).strip() else e,
                    )
                self._loaded = self._clock()
            return self._keys

    def hasKeys(self) -> bool:
        """Whether any domain has an active key (as of at most C{ttl} seconds ago)."""
        return bool(self._current())

    def keyFor(self, domain: str) -> DomainKey | None:
        """The key for C{domain} or, failing that, for the nearest parent domain."""
        keys = self._current()
        labels = domain.lower().rstrip(".").split(".")
        for i in range(len(labels) - 1):
            key = keys.get(".".join(labels[i:]))
            if key is not None:
                return key
        return None
