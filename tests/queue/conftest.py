"""What the shared queue's tests read of its leases, on PostgreSQL's clock."""

from __future__ import annotations


def leases(connect) -> dict[str, float | None]:
    """When each queued message's lease runs out."""
    with connect() as db:
        return dict(db.execute("SELECT qid, lease_until FROM queue_messages").fetchall())


def databaseNow(connect) -> float:
    """The time on the database's clock, which leases are counted on."""
    with connect() as db:
        return float(db.execute("SELECT extract(epoch from clock_timestamp())").fetchone()[0])
