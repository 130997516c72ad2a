"""
Bearer tokens of the REST API. A token is 32 random bytes, shown once when
it is made; only its SHA-256 is kept (a salt adds nothing to a secret that
long), so a copy of the database does not let anyone in. A token's scope is
C{read} (it reads events, messages and lists), C{admin} (it may change
things too) or C{send} (it may only send, as the one login it names:
C{POST /v1/send}); tokens made before scopes existed are read tokens.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from attrs import frozen

from ._changes import changed
from ._engine import Connection
from ._engines import Conflict
from ._exceptions import Exists, Hint, Invalid, Missing, NoSuchLogin

PREFIX = "spt_"
READ = "read"
ADMIN = "admin"
SEND = "send"
SCOPES = (READ, ADMIN, SEND)
_COLUMNS = "name, created, last_used, scope, login"


@frozen
class TokenRecord:
    name: str
    created: float
    lastUsed: float | None
    scope: str = READ
    #: The login a send token sends as (C{None} for the other scopes).
    login: str | None = None

    def toJSON(self) -> dict:
        return {
            "name": self.name,
            "scope": self.scope,
            "login": self.login,
            "created": self.created,
            "last_used": self.lastUsed,
        }


def tokenHash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenStore:
    def __init__(self, db: Connection) -> None:
        self.db = db

    def create(
        self, name: str, scope: str = READ, login: str | None = None
    ) -> tuple[TokenRecord, str]:
        """
        A new token, and its secret (shown once). A send token names the
        C{login} it sends as (which must exist); the other scopes name none.
        """
        name = name.strip()
        if not name or len(name) > 100 or not name.isprintable():
            raise Invalid("name", "a token name is 1 to 100 characters, e.g. reporting")
        if scope not in SCOPES:
            raise Invalid(
                "scope", f"a token's scope is {', '.join(SCOPES)}, not {str(scope)[:100]!r}"
            )
        if scope == SEND and not login:
            raise Invalid("login", "required for a send token: the login it sends as")
        if scope != SEND and login:
            raise Invalid("login", f"only a send token has a login (this is a {scope} token)")
        if login is not None:
            known = self.db.execute("SELECT 1 FROM logins WHERE name = ?", (login,)).fetchone()
            if known is None:
                raise NoSuchLogin(login)
        token = PREFIX + secrets.token_urlsafe(32)
        now = time.time()
        try:
            self.db.execute(
                "INSERT INTO api_tokens (name, hash, created, scope, login) VALUES (?, ?, ?, ?, ?)",
                (name, tokenHash(token), now, scope, login),
            )
        except Conflict:
            raise Exists(f"a token named {name!r} exists already; delete it or choose another")
        changed(self.db, "api_tokens")
        return TokenRecord(name, now, None, scope, login), token

    def list(self) -> list[TokenRecord]:
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM api_tokens ORDER BY name")
        return [TokenRecord(*row) for row in rows]

    def delete(self, name: str) -> None:
        if not self.db.execute("DELETE FROM api_tokens WHERE name = ?", (name,)).rowcount:
            raise Missing(f"no token named {name!r}", hint=Hint("list", "token"))
        # Every process's API forgets the tokens it trusted (smtpeter.web's Bearer).
        changed(self.db, "api_tokens")

    def lookup(self, token: str) -> TokenRecord | None:
        """The token's record, if it is one (reads only)."""
        row = self.db.execute(
            f"SELECT {_COLUMNS} FROM api_tokens WHERE hash = ?", (tokenHash(token),)
        ).fetchone()
        return None if row is None else TokenRecord(*row)

    def touch(self, name: str, now: float) -> None:
        """Note that the token C{name} was used."""
        self.db.execute("UPDATE api_tokens SET last_used = ? WHERE name = ?", (now, name))

    def check(self, token: str) -> TokenRecord | None:
        """The token's record, if it is one; notes when it was used."""
        record = self.lookup(token)
        if record is not None:
            self.touch(record.name, time.time())
        return record
