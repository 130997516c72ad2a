"""
The shared queue's writes of many messages in one statement, from arrays
(psycopg's binary format: as text, escaping JSON and bodies cost more
than the statements saved): the new messages of a group commit, and its
finished ones (L{smtpeter.queue._shared}). Rows are found by their
keys (C{qid = ANY(...)}): a join with the arrays was planned as a scan of
every row the worker holds.
"""

from __future__ import annotations

from collections.abc import Callable

from ..message import QueuedMessage
from ._incoming import Spilled
from ._sharedconnection import NOW, ClaimLost
from ._spool import _metadata


def writeAll(
    db,
    node: str,
    owner: str,
    lease: float,
    claims: dict[str, int],
    keepSent: float,
    stored: list[QueuedMessage],
    finished: list[tuple],
) -> Callable[[], set[str]]:
    """
    A group commit's new messages (L{_storing}) and finished ones
    (L{_finishing}) in one statement, each part a sub-statement (they see
    the rows as they were before it). @return: what gives, once it is
    done, the queue ids of C{finished} whose claim held.
    """
    parts = [_storing(node, owner, lease, stored)] if stored else []
    if finished:
        parts.append(_finishing(owner, claims, keepSent, finished))
    cursor = db.execute(
        "WITH "
        + ", ".join(sql for sql, _ in parts)
        + (" SELECT qid FROM done" if finished else " SELECT NULL WHERE FALSE"),
        tuple(argument for _, arguments in parts for argument in arguments),
    )
    found: list[set[str]] = []

    def done() -> set[str]:
        if not found:
            found.append({qid for (qid,) in cursor.fetchall()})
        return found[0]

    return done


def _storing(node: str, owner: str, lease: float, messages: list[QueuedMessage]):
    """
    New messages, each with its body: each claimed by C{owner} at once (it
    is due now, and that worker has it in hand: its first claim), unless it
    is held: held mail is nobody's until it is released. (The caller notes
    its claims.) @return: the sub-statements and their arguments.
    """
    contents = []
    for message in messages:
        content = message.content
        contents.append(bytes(content.read() if isinstance(content, Spilled) else content))
    qids = [message.qid for message in messages]
    sql = (
        "new AS (INSERT INTO queue_messages"
        " (qid, meta, node, received, due, owner, lease_until, claim)"
        " SELECT s.qid, s.meta, %s, s.received,"
        " CASE WHEN s.held THEN NULL ELSE s.received END,"
        " CASE WHEN s.held THEN NULL ELSE %s END,"
        f" CASE WHEN s.held THEN NULL ELSE {NOW} + %s END, 1"
        " FROM unnest(%b::text[], %b::text[], %b::float8[], %b::boolean[])"
        " AS s(qid, meta, received, held)),"
        " newBodies AS (INSERT INTO queue_bodies (qid, content)"
        " SELECT * FROM unnest(%b::text[], %b::bytea[]))"
    )
    return sql, (
        node,
        owner,
        lease,
        qids,
        [_metadata(message)[:-1].decode() for message in messages],
        [float(message.received) for message in messages],
        [message.options.hold for message in messages],
        qids,
        contents,
    )


def _finishing(owner: str, claims: dict[str, int], keepSent: float, items: list[tuple]):
    """
    Finished messages (C{items}: C{("finish", qid, when)}) leave the
    queue, each only while C{owner}'s claim holds (C{claims}: qid -> claim
    number), with their recipients' rows (C{done} names those whose claim
    held). Their bodies stay where they were written, marked finished
    (C{when}), with C{keepSent}: the dashboard shows them, and the purge
    deletes them after C{keepSent} days; without, they are deleted too.
    (No foreign key cascades: these sub-statements delete every row of a
    message.) @return: the sub-statements and their arguments.
    """
    qids = [item[1] for item in items]
    if keepSent:
        bodies = (
            "UPDATE queue_bodies SET finished = (%b::float8[])[array_position(%b::text[], qid)]"
            " WHERE qid = ANY(%b::text[]) AND qid IN (SELECT qid FROM done)"
        )
        kept: tuple = ([float(item[2]) for item in items], qids, qids)
    else:
        bodies = (
            "DELETE FROM queue_bodies WHERE qid = ANY(%b::text[]) AND qid IN (SELECT qid FROM done)"
        )
        kept = (qids,)
    sql = (
        "done AS (DELETE FROM queue_messages WHERE qid = ANY(%b::text[]) AND owner = %s"
        " AND claim = (%b::bigint[])[array_position(%b::text[], qid)] RETURNING qid),"
        " recipients AS (DELETE FROM queue_recipients"
        " WHERE qid = ANY(%b::text[]) AND qid IN (SELECT qid FROM done)),"
        f" finishedBodies AS ({bodies})"
    )
    return sql, (qids, owner, [claims.get(qid) for qid in qids], qids, qids, *kept)


def heldIn(done: Callable[[], set[str]], qid: str) -> Callable[[], Exception | None]:
    """What tells whether C{qid} is among the queue ids C{done} gives (its claim held)."""
    return lambda: None if qid in done() else ClaimLost(qid)
