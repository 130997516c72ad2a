"""
SMTP login passwords: generated, shown once, stored only as a salted hash.

The gateway makes every password itself, with 192 bits of randomness, so
nothing about it can be guessed faster than by trying 2**191 candidates on
average. A slow KDF only buys time against guessing low-entropy,
human-chosen passwords; here it would cost ~0.1 s of CPU per AUTH and gain
nothing, which is why API-key stores keep a plain SHA-256. We keep a salted
HMAC-SHA256 (a microsecond to check). Hashes made by earlier versions with
scrypt are still accepted, and the caller replaces such a hash with the fast
kind at the login's next successful AUTH (L{needsUpgrade}).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

SCHEME = "hs256"
_SCRYPT_MAXMEM = 64 * 1024 * 1024


def generatePassword() -> str:
    """
    A new password with 192 bits of randomness, safe to paste anywhere,
    and never starting with '-', which command-line tools read as an option.
    """
    while True:
        password = secrets.token_urlsafe(24)
        if not password.startswith("-"):
            return password


def _fast(password: str, salt: bytes) -> bytes:
    return hmac.new(salt, password.encode("utf-8"), hashlib.sha256).digest()


def hashPassword(password: str) -> str:
    """Return C{hs256$salt$hash} for storage: HMAC-SHA256 of the password under a random salt."""
    salt = os.urandom(16)
    b64 = base64.b64encode
    return f"{SCHEME}${b64(salt).decode()}${b64(_fast(password, salt)).decode()}"


def verifyPassword(password: str, stored: str) -> bool:
    """
    Check C{password} against a stored hash (ours, or an older scrypt one)
    in constant time. A garbled hash never matches.
    """
    try:
        scheme, *fields = stored.split("$")
        if scheme == SCHEME:
            salt, digest = fields
            actual = _fast(password, base64.b64decode(salt))
        elif scheme == "scrypt":
            n, r, p, salt, digest = fields
            actual = hashlib.scrypt(
                password.encode("utf-8"),
                salt=base64.b64decode(salt),
                n=int(n),
                r=int(r),
                p=int(p),
                maxmem=_SCRYPT_MAXMEM,
                dklen=32,
            )
        else:
            return False
        return hmac.compare_digest(actual, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False


def needsUpgrade(stored: str) -> bool:
    """Whether a hash that just verified should be stored again as L{hashPassword} makes it."""
    return not stored.startswith(SCHEME + "$")


# Checked when a login name does not exist, so that an unknown name costs the
# same as a wrong password and timing does not reveal which names exist.
DUMMY_HASH = hashPassword(generatePassword())
