"""
The dashboard's users. An admin may change everything the CLI changes; a
viewer sees everything and changes nothing. Passwords are generated (192
bits) and shown once, and kept as the same salted hash as SMTP logins'
(L{_passwords}). A user's C{generation} goes up when the password is reset,
so that sessions signed before it stop working.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from attrs import field, frozen

from ._engine import Connection
from ._engines import Conflict
from ._exceptions import Exists, Hint, Missing, StoreError
from ._passwords import DUMMY_HASH, generatePassword, hashPassword, verifyPassword

ADMIN = "admin"
VIEWER = "viewer"
ROLES = (ADMIN, VIEWER)
_COLUMNS = "name, role, created, last_login, generation, password_hash"


@frozen
class AdminUser:
    name: str
    role: str
    created: float
    lastLogin: float | None
    generation: int
    passwordHash: str = field(repr=False, eq=False)

    def toJSON(self) -> dict:
        return {
            "name": self.name,
            "role": self.role,
            "created": self.created,
            "last_login": self.lastLogin,
        }


def _missing(name: str) -> Missing:
    return Missing(f"no dashboard user named {name!r}", hint=Hint("list", "admin"))


class AdminStore:
    """
    Synchronous access to the dashboard's users. Deleting a user, or
    resetting its password, ends every session of that user (their rows go).
    """

    def __init__(self, db: Connection, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    def _endSessions(self, name: str) -> None:
        self.db.execute("DELETE FROM dashboard_sessions WHERE name = ?", (name,))

    def get(self, name: str) -> AdminUser | None:
        row = self.db.execute(
            f"SELECT {_COLUMNS} FROM admin_users WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else AdminUser(*row)

    def require(self, name: str) -> AdminUser:
        user = self.get(name)
        if user is None:
            raise _missing(name)
        return user

    def list(self) -> list[AdminUser]:
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM admin_users ORDER BY name")
        return [AdminUser(*row) for row in rows]

    def create(self, name: str, role: str = ADMIN) -> tuple[AdminUser, str]:
        name = name.strip()
        if not name or len(name) > 100 or any(c.isspace() for c in name):
            raise StoreError("a user name is 1 to 100 characters without spaces")
        if role not in ROLES:
            raise StoreError(f"a role is {' or '.join(ROLES)}, not {role!r}")
        password = generatePassword()
        user = AdminUser(name, role, self.clock(), None, 1, hashPassword(password))
        try:
            self.db.execute(
                "INSERT INTO admin_users (name, password_hash, role, created) VALUES (?, ?, ?, ?)",
                (name, user.passwordHash, role, user.created),
            )
        except Conflict:
            raise Exists(f"a dashboard user named {name!r} exists already")
        self._endSessions(name)  # any left by a user of that name deleted meanwhile
        return user, password

    def resetPassword(self, name: str) -> tuple[AdminUser, str]:
        """A new password; the user's sessions end."""
        password = generatePassword()
        pwhash = hashPassword(password)
        if not self.db.execute(
            "UPDATE admin_users SET password_hash = ?, generation = generation + 1 WHERE name = ?",
            (pwhash, name),
        ).rowcount:
            raise _missing(name)
        self._endSessions(name)
        return self.require(name), password

    def delete(self, name: str) -> None:
        """Delete the user and end its sessions; of several deleting it at once, one succeeds."""
        if not self.db.execute("DELETE FROM admin_users WHERE name = ?", (name,)).rowcount:
            raise _missing(name)
        self._endSessions(name)

    def check(self, name: str, password: str) -> AdminUser | None:
        """
        The user, if the password is right (as long for an unknown name as a
        wrong one). Reads only: a right password the throttle then refuses
        is no log-in, so L{noteLogin} is the caller's, once it is accepted.
        """
        user = self.get(name)
        if not verifyPassword(password, user.passwordHash if user else DUMMY_HASH) or not user:
            return None
        return user

    def noteLogin(self, name: str) -> None:
        """Record that the user has logged in now (the throttle accepted the log-in)."""
        self.db.execute(
            "UPDATE admin_users SET last_login = ? WHERE name = ?", (self.clock(), name)
        )
