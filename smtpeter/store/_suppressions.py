"""
The suppression list: recipient addresses that mail is no longer attempted
to, because they hard-bounced or complained (or an administrator said so).
One list per installation, shared by every worker through the database.
Addresses compare without regard to case. An entry may expire.

Each entry has a scope: the whole gateway (C{login} is C{None}; hard
bounces, complaints, an administrator's entries) or one login (a
recipient's one-click unsubscribe stops only that login's mail to it). An
address may have one entry per scope. The database keeps the gateway's
scope as C{''}; every method here speaks C{None}.
"""

from __future__ import annotations

import builtins
import math
import time
from collections.abc import Callable, Iterable

from attrs import frozen

from . import _engines
from ._changes import changed
from ._engine import Connection
from ._engines import DatabaseError, begin
from ._events import isoTime
from ._exceptions import Invalid, Missing, StoreError

#: Why an address is suppressed, when a bounce or a complaint put it there.
HARD_BOUNCE = "hard bounce"
COMPLAINT = "complaint"
MANUAL = "added by an administrator"
#: Why an address is suppressed for one login: its recipient unsubscribed (RFC 8058).
UNSUBSCRIBED = "unsubscribed"
#: The longest an administrator may suppress an address for, in days (0 is for ever).
MAX_DAYS = 36500
#: The longest reason an administrator may give.
MAX_REASON = 200


def suppressionExpiry(now: float, days: object) -> float | None:
    """
    When an entry made now for C{days} days expires (C{None}: never, for 0);
    L{Invalid} for anything but a number from 0 to L{MAX_DAYS}.
    """
    if (
        isinstance(days, bool)
        or not isinstance(days, (int, float))
        or not (isinstance(days, int) or math.isfinite(days))
        or not 0 <= days <= MAX_DAYS
    ):
        raise Invalid("days", f"a number of days from 0 to {MAX_DAYS}; 0 for ever")
    return now + days * 86400 if days else None


def suppressionReason(reason: object) -> str:
    """A reason as given by an administrator, or L{Invalid}."""
    if not isinstance(reason, str) or not 0 < len(reason.strip()) <= MAX_REASON:
        raise Invalid("reason", f"a text of 1 to {MAX_REASON} characters")
    return reason.strip()


#: A row of C{suppressions}: address, reason, created, expires, qid, login ('' for none).
SuppressionRow = tuple[str, str, float, float | None, str | None, str]
_COLUMNS = "address, reason, created, expires, qid, login"


def _entry(row: SuppressionRow) -> Suppression:
    return Suppression(*row[:5], login=row[5] or None)


@frozen
class Suppression:
    address: str
    reason: str
    created: float
    expires: float | None
    #: The message whose bounce or complaint caused it, if one did.
    qid: str | None
    #: The login whose mail it stops; C{None}: every login's (the whole gateway).
    login: str | None = None

    def toJSON(self) -> dict:
        return {
            "email": self.address,
            "reason": self.reason,
            "created": isoTime(self.created),
            "expires": None if self.expires is None else isoTime(self.expires),
            "messageid": self.qid,
            "login": self.login,
        }


#: Entries moved from an import into the list per transaction: the gateway's
#: writers wait for at most one such batch (milliseconds) at a time.
IMPORT_BATCH = 2000
_STAGE = 10_000


class ImportFailed(StoreError):
    """An import that stopped after moving some entries into the list: C{imported} says how many."""

    def __init__(self, imported: int, total: int, line: int, why: Exception) -> None:
        super().__init__(
            f"{why}; imported {imported} of {total} entries (up to and including line {line}),"
            " none after"
            if imported
            else f"{why}; nothing was imported"
        )
        self.imported = imported


def normalise(address: str) -> str:
    address = address.strip().strip("<>").strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in address):
        raise StoreError(f"{address!r} is not an email address")
    return f"{local}@{domain.lower()}"


def newEntry(address: str) -> str:
    """
    An address to put on the list, L{normalised<normalise>}: one with a
    control or format character (an escape sequence for the terminal that
    lists it, a right-to-left mark) is no address mail goes to.
    """
    address = normalise(address)
    if not address.isprintable():
        raise StoreError(f"{address!r} is not an email address (it holds a control character)")
    return address


class SuppressionStore:
    """Synchronous access to the suppression list (the CLI; the database's threads)."""

    def __init__(self, db: Connection) -> None:
        self.db = db

    def add(
        self,
        address: str,
        reason: str,
        now: float,
        expires: float | None,
        qid: str | None = None,
        login: str | None = None,
    ) -> Suppression:
        """
        Suppress C{address} for C{login}'s mail (C{None}: everyone's); again:
        the newest reason and expiry win.
        """
        entry = Suppression(newEntry(address), reason, now, expires, qid, login or None)
        self.db.execute(
            "INSERT INTO suppressions (address, login, reason, created, expires, qid)"
            " VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (address, login) DO UPDATE SET address = excluded.address,"
            " reason = excluded.reason, created = excluded.created,"
            " expires = excluded.expires, qid = excluded.qid",
            (entry.address, login or "", entry.reason, entry.created, entry.expires, entry.qid),
        )
        changed(self.db, "suppressions")
        return entry

    def delete(self, address: str, login: str | None = None) -> None:
        """
        Take C{address} off the list: only C{login}'s entry when one is
        named, else every entry of it (the gateway's and every login's).
        """
        if login is None:
            cursor = self.db.execute(
                "DELETE FROM suppressions WHERE address = ?", (normalise(address),)
            )
        else:
            cursor = self.db.execute(
                "DELETE FROM suppressions WHERE address = ? AND login = ?",
                (normalise(address), login),
            )
        if not cursor.rowcount:
            scope = "" if login is None else f" for login {login}"
            raise Missing(f"{address} is not suppressed{scope}")
        changed(self.db, "suppressions")

    def list(self, now: float, login: str | None = None) -> list[Suppression]:
        """Every entry in force (or only C{login}'s), oldest first."""
        where = "" if login is None else " AND login = ?"
        rows: Iterable[SuppressionRow] = self.db.execute(
            f"SELECT {_COLUMNS} FROM suppressions"
            f" WHERE (expires IS NULL OR expires > ?){where} ORDER BY created, address, login",
            (now,) if login is None else (now, login),
        )
        return [_entry(row) for row in rows]

    def find(
        self, addresses: builtins.list[str], now: float, login: str | None = None
    ) -> dict[str, Suppression]:
        """
        The entries in force for C{addresses} that stop C{login}'s mail, by
        the address as given: the gateway's entry if there is one, else the
        login's.
        """
        found = {}
        for address in addresses:
            row: SuppressionRow | None = self.db.execute(
                f"SELECT {_COLUMNS} FROM suppressions"
                " WHERE address = ? AND login IN ('', ?) AND (expires IS NULL OR expires > ?)"
                " ORDER BY login LIMIT 1",
                (address, login or "", now),
            ).fetchone()
            if row is not None:
                found[address] = _entry(row)
        return found

    def scoped(self, address: str, login: str | None, now: float) -> Suppression | None:
        """The entry in force for C{address} in exactly C{login}'s scope (C{None}: gateway)."""
        row: SuppressionRow | None = self.db.execute(
            f"SELECT {_COLUMNS} FROM suppressions"
            " WHERE address = ? AND login = ? AND (expires IS NULL OR expires > ?)",
            (normalise(address), login or "", now),
        ).fetchone()
        return None if row is None else _entry(row)

    def purge(self, now: float) -> int:
        """Forget expired entries; how many."""
        return self.db.execute(
            "DELETE FROM suppressions WHERE expires IS NOT NULL AND expires <= ?", (now,)
        ).rowcount

    def importEntries(
        self,
        entries: Iterable[tuple],
        now: float,
        expires: float | None,
        sleep: Callable[[float], None] = time.sleep,
        batch: int = IMPORT_BATCH,
    ) -> int:
        """
        Suppress every C{(line, address, reason)} of C{entries} (a file's, in
        its order; a later line wins) until C{expires}; how many entries
        (an address in one scope) the list now has from them. An entry may
        add a login (C{(line, address, reason, login)}) for that login's
        scope, and its own expiry (C{(line, address, reason, login,
        expires)}, C{None} for ever) instead of C{expires}. All or
        nothing: each entry
        is checked and staged in a temporary table first, so that a bad one
        (a L{StoreError} that names its line; C{entries} may raise one too)
        leaves the list as it was. Then they move into the list in
        transactions of C{batch} rows, each followed by a pause as long as it
        took, so that other writers wait for one batch at most. Should a
        batch fail, L{ImportFailed} says how many were imported.
        """
        db = self.db
        engine = _engines.of(db)
        engine.temporaryOnDisk(db)  # a million lines stay on disk, not in memory
        db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS suppression_import"
            f" (n {engine.ROW_NUMBER}, line INTEGER NOT NULL, address TEXT NOT NULL,"
            " reason TEXT NOT NULL, login TEXT NOT NULL, expires DOUBLE PRECISION)"
        )
        try:
            total = self._stage(entries, expires)
            db.execute(
                "CREATE INDEX IF NOT EXISTS suppression_import_entry"
                " ON suppression_import (address, login, n)"
            )
            self._move(total, now, sleep, batch)
            return db.execute(
                "SELECT count(*) FROM (SELECT DISTINCT address, login FROM suppression_import) e"
            ).fetchone()[0]
        finally:
            if db.in_transaction:
                db.execute("ROLLBACK")
            db.execute("DROP TABLE suppression_import")

    def _stage(self, entries: Iterable[tuple], expires: float | None) -> int:
        """Check C{entries} and copy them into the temporary table (which locks nothing else)."""
        rows: builtins.list[tuple[int, str, str, str, float | None]] = []
        total = 0

        def flush() -> None:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT INTO suppression_import (line, address, reason, login, expires)"
                " VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            self.db.execute("COMMIT")
            rows.clear()

        for line, address, reason, *scope in entries:
            try:
                login = scope[0] if scope and scope[0] else ""
                until = scope[1] if len(scope) > 1 else expires
                rows.append((line, newEntry(address), suppressionReason(reason), login, until))
            except StoreError as e:
                raise StoreError(f"line {line}: {e}; nothing was imported") from e
            total += 1
            if len(rows) >= _STAGE:
                flush()
        if rows:
            flush()
        return total

    def _move(self, total: int, now: float, sleep, batch: int) -> None:
        done = 0
        while done < total:
            started = time.monotonic()
            try:
                begin(self.db)
                self.db.execute(
                    "INSERT INTO suppressions (address, reason, created, expires, qid, login)"
                    " SELECT address, reason, CAST(? AS DOUBLE PRECISION),"
                    " expires, NULL, login FROM suppression_import s"
                    " WHERE n > ? AND n <= ?"
                    # One row per entry and statement (PostgreSQL refuses to
                    # update a row twice in one): the batch's later line wins.
                    " AND NOT EXISTS (SELECT 1 FROM suppression_import later"
                    " WHERE later.address = s.address AND later.login = s.login"
                    " AND later.n > s.n AND later.n <= ?) ORDER BY n"
                    " ON CONFLICT (address, login) DO UPDATE SET address = excluded.address,"
                    " reason = excluded.reason, created = excluded.created,"
                    " expires = excluded.expires, qid = excluded.qid",
                    (now, done, done + batch, done + batch),
                )
                self.db.execute("COMMIT")
            except DatabaseError as e:
                line = self.db.execute(
                    "SELECT max(line) FROM suppression_import WHERE n <= ?", (done,)
                ).fetchone()[0]
                raise ImportFailed(done, total, line or 0, e) from e
            done = min(done + batch, total)
            changed(self.db, "suppressions")
            if done < total:
                sleep(min(time.monotonic() - started, 1.0))
