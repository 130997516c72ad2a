"""
Signed identifiers for tracking links, open pixels and bounce addresses.

Each names a message (its queue id), a recipient (its index in the envelope)
and, for clicks, a link (its index in the message's recorded link list), and
carries a MAC made with the gateway's secret, 96 bits long (80 for bounce
addresses, which must fit a local part). A changed, truncated or made-up
identifier does not verify. The kinds are signed apart, so an open token
cannot be replayed as a click.

The MAC is keyed BLAKE2b (RFC 7693), a quarter of HMAC-SHA256's cost in
Python; a newsletter needs one per link per recipient. Identifiers made
before it, with HMAC-SHA256 truncated to the same length, still verify:
they are in mailboxes for years.

Unsubscribe tokens (C{/u/TOKEN}, RFC 8058) are sealed rather than only
signed: they carry the recipient's address and the login, which must
outlive the message's record (a newsletter is unsubscribed from months
later), yet must not show the address to whoever sees the URL (a proxy's
log, a forwarded message). So they are AES-256-GCM ciphertexts under a key
derived from the same secret, with a nonce derived from the content (the
same recipient of the same message always gets the same token), padded to
a multiple of 16 bytes so that their length barely hints at the address's.
A click token cannot pass for one: another key, another layout.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from pathlib import Path

from attrs import field, frozen
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_CLICK = struct.Struct(">10sIH")
_OPEN = struct.Struct(">10sI")
_MAC = 12
_BOUNCE_MAC = 11
#: An unsubscribe token: version, nonce, then the sealed qid, index, login and address.
_SEALED = struct.Struct(">10sIB")
_SEALED_VERSION = b"\x01"
_NONCE = 12
_NO_LOGIN = 255
#: The longest unsubscribe token read (an address of 254 and a login of 254 fit).
MAX_SEALED = 800


@frozen
class TrackingId:
    qid: str
    recipient: int
    link: int | None = None


def loadSecret(path: Path) -> bytes:
    """The gateway's secret, made (32 random bytes, mode 0600) on first use."""
    try:
        secret = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))
            f.flush()
            os.fsync(f.fileno())
        secret = path.read_bytes()
    if len(secret) < 32:
        raise ValueError(f"{path} is damaged: delete it to make a new one (old links stop working)")
    return secret


@frozen
class UnsubscribeId:
    """What an unsubscribe token says: which copy, of which login's mail, to whom."""

    qid: str
    recipient: int
    login: str | None
    address: str = field(repr=False)


@frozen
class TokenSigner:
    secret: bytes = field(repr=False)
    # Each kind's MAC keyed once; a token copies it (a third of the cost).
    _keyed: dict = field(init=False, repr=False, eq=False, factory=dict)
    _legacy: dict = field(init=False, repr=False, eq=False, factory=dict)
    _sealing: list = field(init=False, repr=False, eq=False, factory=list)

    def _mac(self, kind: bytes, payload: bytes, size: int) -> bytes:
        keyed = self._keyed.get((kind, size))
        if keyed is None:
            # BLAKE2b takes keys of up to 64 bytes; a longer secret is hashed to fit.
            key = self.secret if len(self.secret) <= 64 else hashlib.sha256(self.secret).digest()
            keyed = hashlib.blake2b(key=key, digest_size=size, person=b"smtpeter " + kind)
            self._keyed[kind, size] = keyed
        mac = keyed.copy()
        mac.update(payload)
        return mac.digest()

    def _legacyMac(self, kind: bytes, payload: bytes, size: int) -> bytes:
        """The MAC of identifiers made before BLAKE2b: HMAC-SHA256, truncated."""
        keyed = self._legacy.get(kind)
        if keyed is None:
            keyed = self._legacy[kind] = hmac.new(self.secret, kind, hashlib.sha256)
        mac = keyed.copy()
        mac.update(payload)
        return mac.digest()[:size]

    def click(self, qid: str, recipient: int, link: int) -> str:
        payload = _CLICK.pack(bytes.fromhex(qid), recipient, link)
        return _b64(payload + self._mac(b"c", payload, _MAC))

    def open(self, qid: str, recipient: int) -> str:
        payload = _OPEN.pack(bytes.fromhex(qid), recipient)
        return _b64(payload + self._mac(b"o", payload, _MAC))

    def bounce(self, qid: str, recipient: int) -> str:
        """A local part: lower case letters and digits, as some MTAs fold case."""
        payload = _OPEN.pack(bytes.fromhex(qid), recipient)
        raw = payload + self._mac(b"b", payload, _BOUNCE_MAC)
        return "b" + base64.b32encode(raw).decode("ascii").lower()

    def _aead(self) -> tuple[AESGCM, bytes]:
        """The unsubscribe tokens' cipher and nonce key, both derived from the secret."""
        if not self._sealing:
            key = self.secret if len(self.secret) <= 64 else hashlib.sha256(self.secret).digest()
            cipher, nonceKey = (
                hashlib.blake2b(key=key, digest_size=32, person=person).digest()
                for person in (b"smtpeter u-key", b"smtpeter u-iv")
            )
            # One append of the whole pair: feature threads may race here, harmlessly.
            self._sealing.append((AESGCM(cipher), nonceKey))
        return self._sealing[0]

    def unsubscribe(self, qid: str, recipient: int, login: str | None, address: str) -> str:
        """A URL-safe token sealing C{login} and C{address} (see the module's docstring)."""
        name = b"" if login is None else login.encode("utf-8")
        if len(name) >= _NO_LOGIN:
            raise ValueError("a login name of at most 254 bytes")
        plain = _SEALED.pack(
            bytes.fromhex(qid), recipient, _NO_LOGIN if login is None else len(name)
        )
        plain += name + address.encode("utf-8")
        plain += b"\0" * (-len(plain) % 16)
        cipher, nonceKey = self._aead()
        nonce = hashlib.blake2b(plain, key=nonceKey, digest_size=_NONCE).digest()
        return _b64(_SEALED_VERSION + nonce + cipher.encrypt(nonce, plain, _SEALED_VERSION))

    def readUnsubscribe(self, token: str) -> UnsubscribeId | None:
        """What an unsubscribe token seals, or C{None} if this gateway did not make it."""
        if not token or len(token) > MAX_SEALED:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            return None
        if raw[:1] != _SEALED_VERSION or len(raw) < 1 + _NONCE + 16 + _SEALED.size:
            return None
        cipher, _ = self._aead()
        try:
            plain = cipher.decrypt(raw[1 : 1 + _NONCE], raw[1 + _NONCE :], _SEALED_VERSION)
        except InvalidTag:
            return None
        qid, index, size = _SEALED.unpack_from(plain)
        rest = plain[_SEALED.size :].rstrip(b"\0")
        login = None if size == _NO_LOGIN else rest[:size].decode("utf-8", "replace")
        address = rest[0 if size == _NO_LOGIN else size :].decode("utf-8", "replace")
        return UnsubscribeId(qid.hex().upper(), index, login, address)

    def _verified(self, kind: bytes, raw: bytes | None, layout: struct.Struct, size: int):
        """The payload's fields if C{raw} is a whole payload with a valid MAC, else C{None}."""
        if raw is None or len(raw) != layout.size + size:
            return None
        payload, mac = raw[: layout.size], raw[layout.size :]
        if not (
            hmac.compare_digest(mac, self._mac(kind, payload, size))
            or hmac.compare_digest(mac, self._legacyMac(kind, payload, size))
        ):
            return None
        qid, *rest = layout.unpack(payload)
        return TrackingId(qid.hex().upper(), *rest)

    def readClick(self, token: str) -> TrackingId | None:
        return self._verified(b"c", _unb64(token), _CLICK, _MAC)

    def readOpen(self, token: str) -> TrackingId | None:
        return self._verified(b"o", _unb64(token), _OPEN, _MAC)

    def readBounce(self, local: str) -> TrackingId | None:
        if not local[:1].lower() == "b":
            return None
        try:
            raw = base64.b32decode(local[1:].upper())
        except (binascii.Error, ValueError):
            return None
        return self._verified(b"b", raw, _OPEN, _BOUNCE_MAC)


#: base64's alphabet to the URL-safe one (what urlsafe_b64encode does, in one call).
_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(raw: bytes) -> str:
    return binascii.b2a_base64(raw, newline=False).translate(_URLSAFE).rstrip(b"=").decode("ascii")


def _unb64(token: str) -> bytes | None:
    if not token or len(token) > 100:
        return None
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
