"""
Change marks for PostgreSQL (what L{smtpeter.store._changes.ChangeMarks}
is for SQLite on one machine): how a process learns that a table whose
rows it keeps in memory has changed, on any node.

Whoever changes a watched table sends C{NOTIFY smtpeter_changes, 'table'}
after its commit (L{smtpeter.store._postgres.Connection.publish}), outside
the transaction. Each gateway process keeps one L{ChangeListener}: a
thread with a connection of its own that C{LISTEN}s, and gives the table a
new mark when a notification comes. A process's own changes are marked at
once, without waiting for the notification's round trip.

Notifications reach only those listening: while the listener has no
connection (PostgreSQL restarting, the network gone), it answers a new
mark at every look, so nothing is kept; once it listens again it forgets
everything it had (what changed meanwhile was not heard). A change is
seen by every node within the notification's delivery, milliseconds, and
within L{RETRY} of a reconnection.
"""

from __future__ import annotations

import os
import threading
import weakref

import psycopg
from twisted.logger import Logger

from ..runtime import withConnectionDefaults
from ._changes import TABLES

log = Logger()

#: The channel of the change notifications.
CHANNEL = "smtpeter_changes"
#: How long the listener waits before it connects again, in seconds.
RETRY = 1.0
#: How often the listener looks up from its connection to see whether it must stop.
TICK = 0.25
_SLOT = 8

#: This process's listeners, by database URI: a change it makes is marked at once.
_local: dict[str, weakref.WeakSet] = {}
_localLock = threading.Lock()


def markedHere(uri: str, tables) -> None:
    """This process changed C{tables} of the database C{uri}: its listeners know at once."""
    with _localLock:
        listeners = list(_local.get(uri, ()))
    for listener in listeners:
        for table in tables:
            listener.changed(table)


class ChangeListener:
    """
    The marks of one PostgreSQL database, kept by a listening thread
    (started by the constructor; L{close} ends it).
    """

    def __init__(self, uri: str, tables=TABLES) -> None:
        self.uri = uri
        self._marks = {table: os.urandom(_SLOT) for table in tables}
        #: Set while the thread listens (every change since will be heard).
        self.listening = threading.Event()
        self._stopping = threading.Event()
        with _localLock:
            _local.setdefault(uri, weakref.WeakSet()).add(self)
        self._thread = threading.Thread(target=self._run, name="smtpeter-db-changes", daemon=True)
        self._thread.start()

    def mark(self, table: str) -> bytes:
        if not self.listening.is_set():
            return os.urandom(_SLOT)  # not listening: keep nothing
        return self._marks[table]

    def changed(self, table: str) -> None:
        self._marks[table] = os.urandom(_SLOT)

    def close(self) -> None:
        """Stop listening (the thread ends, and closes its connection, within L{TICK})."""
        self._stopping.set()
        self.listening.clear()
        with _localLock:
            found = _local.get(self.uri)
            if found is not None:
                found.discard(self)

    def _forgetAll(self) -> None:
        for table in self._marks:
            self.changed(table)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                with psycopg.connect(withConnectionDefaults(self.uri), autocommit=True) as db:
                    db.execute(f"LISTEN {CHANNEL}")
                    # Listening from here on: what changed before is forgotten.
                    self._forgetAll()
                    self.listening.set()
                    while not self._stopping.is_set():
                        for notice in db.notifies(timeout=TICK):
                            if notice.payload in self._marks:
                                self.changed(notice.payload)
            except psycopg.Error as e:
                if self.listening.is_set():
                    log.warn(
                        "stopped hearing the database's changes ({error}); keeping nothing"
                        " in memory until it answers again",
                        error=str(e).strip().splitlines()[0] if str(e).strip() else e,
                    )
            finally:
                self.listening.clear()
            self._stopping.wait(RETRY)
        self.listening.clear()
