"""
How many connections each client address holds open on a set of
listeners, and whether one more is allowed: the SMTP listeners share one
count, every HTTP site keeps its own.
"""

from __future__ import annotations

from collections import Counter


class ConnectionsPerAddress(Counter):
    """Open connections per client address; an address with none is not kept."""

    def enter(self, address: str, limit: int) -> bool:
        """
        Count one more connection from C{address}; whether it is within
        C{limit}. Counted either way: every L{enter} has its L{leave}.
        """
        self[address] += 1
        return self[address] <= limit

    def leave(self, address: str) -> None:
        """Count one connection from C{address} less."""
        self[address] -= 1
        if self[address] <= 0:
            del self[address]


__all__ = ["ConnectionsPerAddress"]
