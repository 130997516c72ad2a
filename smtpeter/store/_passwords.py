"""
SMTP login passwords: generated, shown once, stored only as a salted scrypt
hash. scrypt with n=2**15 costs about 0.1 s and 32 MiB per check, which is
what makes a stolen database expensive to attack; callers run it off the
reactor thread.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

_N, _R, _P = 2**15, 8, 1
_MAXMEM = 64 * 1024 * 1024


def generatePassword() -> str:
    """
    A new password with 192 bits of randomness, safe to paste anywhere,
    and never starting with '-', which command-line tools read as an option.
    """
    while True:
        password = secrets.token_urlsafe(24)
        if not password.startswith("-"):
            return password


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=32
    )


def hashPassword(password: str) -> str:
    """Return C{scrypt$n$r$p$salt$hash} for storage."""
    salt = os.urandom(16)
    digest = _scrypt(password, salt, _N, _R, _P)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verifyPassword(password: str, stored: str) -> bool:
    """Check C{password} against a string from L{hashPassword} in constant time."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
        return hmac.compare_digest(actual, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False


# Checked when a login name does not exist, so that an unknown name costs the
# same time as a wrong password and timing does not reveal which names exist.
DUMMY_HASH = hashPassword(generatePassword())
