"""
The secret that signs tracking links and bounce addresses, shared by every
node of a cluster: a link one node wrote into a message is checked by
whichever node the click reaches. It lives in the database's C{secrets}
table; each node keeps a copy in its data directory's C{secret.key}, which
is what the gateway reads.
"""

from __future__ import annotations

#: The row of the gateway's secret.
GATEWAY = "gateway"


def shareSecret(db, mine: bytes) -> bytes:
    """
    The cluster's secret: the one in the database, or, if there is none
    yet, C{mine}, written there for the others (the first node's wins).
    """
    db.execute(
        "INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        (GATEWAY, mine.hex()),
    )
    (shared,) = db.execute("SELECT value FROM secrets WHERE name = ?", (GATEWAY,)).fetchone()
    return bytes.fromhex(shared)
