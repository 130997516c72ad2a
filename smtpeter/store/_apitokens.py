"""
Bearer tokens of the REST API. A token is 32 random bytes, shown once when
it is made; only its SHA-256 is kept (a salt adds nothing to a secret that
long), so a copy of the database does not let anyone in.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time

from attrs import frozen

from ._exceptions import StoreError
from ._schema import applySchema

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_tokens (
    name TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    last_used REAL
);
"""
PREFIX = "spt_"


@frozen
class TokenRecord:
    name: str
    created: float
    lastUsed: float | None

    def toJSON(self) -> dict:
        return {"name": self.name, "created": self.created, "last_used": self.lastUsed}


def tokenHash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenStore:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        applySchema(db, _SCHEMA)

    def create(self, name: str) -> tuple[TokenRecord, str]:
        name = name.strip()
        if not name or len(name) > 100:
            raise StoreError("a token name is 1 to 100 characters, e.g. reporting")
        token = PREFIX + secrets.token_urlsafe(32)
        now = time.time()
        try:
            self.db.execute(
                "INSERT INTO api_tokens (name, hash, created) VALUES (?, ?, ?)",
                (name, tokenHash(token), now),
            )
        except sqlite3.IntegrityError:
            raise StoreError(f"a token named {name!r} exists already; delete it or choose another")
        return TokenRecord(name, now, None), token

    def list(self) -> list[TokenRecord]:
        rows = self.db.execute("SELECT name, created, last_used FROM api_tokens ORDER BY name")
        return [TokenRecord(*row) for row in rows]

    def delete(self, name: str) -> None:
        if not self.db.execute("DELETE FROM api_tokens WHERE name = ?", (name,)).rowcount:
            raise StoreError(f"no token named {name!r}; see 'smtpeter token list'")

    def lookup(self, token: str) -> str | None:
        """The name of the token, if it is one (reads only)."""
        row = self.db.execute(
            "SELECT name FROM api_tokens WHERE hash = ?", (tokenHash(token),)
        ).fetchone()
        return None if row is None else row[0]

    def touch(self, name: str, now: float) -> None:
        """Note that the token C{name} was used."""
        self.db.execute("UPDATE api_tokens SET last_used = ? WHERE name = ?", (now, name))

    def check(self, token: str) -> str | None:
        """The name of the token, if it is one; notes when it was used."""
        name = self.lookup(token)
        if name is not None:
            self.touch(name, time.time())
        return name
