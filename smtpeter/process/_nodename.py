"""
A node's name, held for as long as the node runs: two running nodes with
one name would each release the other's claims on the shared queue at
start, so the second refuses to start.

The name is held as a PostgreSQL advisory lock on a connection of its
own, which the node keeps open for its whole life: when the node dies,
its connection closes and the name is free again, with nothing to clean
up. The C{nodes} table says who holds each name, for the message that
refuses a second one and for the operator.
"""

from __future__ import annotations

import os
import select
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..queue import connectQueue
from ..store import unreachable
from ._datadir import StartError
from ._heartbeat import Heartbeat

if TYPE_CHECKING:
    from ..config import Config

#: The advisory locks of node names share this first key (the second is the name's hash).
LOCK_SPACE = 0x5370  # "Sp"


class NodeNameTaken(Exception):
    """Another running node has this name."""


def holdNodeName(connect: Callable, name: str):
    """
    Take C{name} for this node. @return: the connection that holds it;
    keep it open (L{letGo} lets the name go).
    @raise NodeNameTaken: another running node holds it.
    """
    db = connect()
    db.autocommit = True
    try:
        [taken] = db.execute(
            "SELECT pg_try_advisory_lock(%s, hashtext(current_schema() || %s))",
            (LOCK_SPACE, "/" + name),
        ).fetchone()
        if not taken:
            row = db.execute("SELECT host, pid FROM nodes WHERE name = %s", (name,)).fetchone()
            where = f" (on {row[0]}, pid {row[1]})" if row else ""
            raise NodeNameTaken(
                f"node {name!r} is already running{where}: give this one another --node NAME"
            )
        db.execute(
            "INSERT INTO nodes (name, host, pid, started) VALUES (%s, %s, %s, now())"
            " ON CONFLICT (name) DO UPDATE"
            " SET host = excluded.host, pid = excluded.pid, started = excluded.started",
            (name, socket.gethostname(), os.getpid()),
        )
    except BaseException:
        db.close()
        raise
    return db


def letGo(db, wait: float = 2.0) -> None:
    """
    Let the name that C{db} holds go, at once: closing the connection
    alone frees it only once its PostgreSQL backend has ended, a moment
    later, and a node started again straight away would be refused. The
    server's answer is waited for at most C{wait} seconds (a server gone
    without a word would hold up the stop until the connection timed out);
    then the connection is closed, which lets the name go in the end.
    """
    try:
        if not (db.closed or db.broken):
            pgconn = db.pgconn
            pgconn.send_query(b"SELECT pg_advisory_unlock_all()")
            pgconn.flush()
            deadline = time.monotonic() + wait
            while pgconn.is_busy() and (left := deadline - time.monotonic()) > 0:
                select.select([pgconn.socket], [], [], left)
                pgconn.consume_input()
    except Exception:  # psycopg's: the connection is gone, and its lock with it
        pass
    finally:
        db.close()


class NodeName:
    """
    This node's name, held while it runs (L{holdNodeName}); nothing to
    hold on SQLite. Its lock goes with its connection: when PostgreSQL
    restarts, the heartbeat makes a new connection and takes the name
    again (L{_again}); if another node took it meanwhile (started with
    this name while PostgreSQL was away: it released this node's claims
    as it started), C{lost} is called with what to tell the operator.
    """

    def __init__(
        self,
        connect: Callable,
        name: str,
        lost: Callable[[str], None] = lambda why: None,
    ) -> None:
        self._connect = connect
        self._name = name
        self._lost = lost
        self._told = False
        self._db = holdNodeName(connect, name)
        self._heartbeat: Heartbeat | None = None

    @classmethod
    def hold(cls, config: Config, lost: Callable[[str], None]) -> NodeName | None:
        """
        Hold C{config.node} when the gateway runs on PostgreSQL; C{lost}
        is called (in the heartbeat's thread) if another node takes the
        name while this one runs.
        @raise StartError: another running node has the name, or the
            database cannot be reached; one line saying so.
        """
        if config.postgresql is None:
            return None
        database = config.postgresql
        try:
            name = cls(lambda: connectQueue(database.uri), config.node, lost)
            heartbeat = Heartbeat(name._db, config.node, config.workers, config.lease, name._again)
            try:
                heartbeat.start()
            except BaseException:
                letGo(name._db)
                raise
            name._heartbeat = heartbeat
            return name
        except NodeNameTaken as e:
            raise StartError(str(e)) from None
        except Exception as e:  # psycopg's errors: PostgreSQL away, or refusing us
            raise StartError(unreachable(database, e)) from None

    def _again(self):
        """
        In the heartbeat's thread, once the connection that held the name
        was lost: the name held again on a new one, or C{None} (PostgreSQL
        still away, or the name another node's: then L{_lost} is told, once).
        """
        try:
            self._db = holdNodeName(self._connect, self._name)
        except NodeNameTaken as e:
            if not self._told:
                self._told = True
                self._lost(
                    f"{e} since PostgreSQL was away: it took this node's claims as it"
                    " started; stopping this one (start it again with its own --node NAME)"
                )
            return None
        except Exception:  # psycopg's: still away
            return None
        return self._db

    def release(self) -> None:
        """Let another node have the name (the stop's last step)."""
        if self._heartbeat is not None:
            self._heartbeat.stop()
        letGo(self._db)
