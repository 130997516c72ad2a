"""
C{GET /v1/nodes}: the gateway's nodes with their heartbeat, workers and
the messages their workers hold, and the queue's counts (the same
operation as C{smtpeter nodes}). Any token may read it.
"""

from __future__ import annotations

from ._manage import Managed


class Nodes(Managed):
    def route(self, parts):
        return {b"GET": self.list} if not parts else {}

    async def list(self, request):
        return await self.admin.nodes()


__all__ = ["Nodes"]
