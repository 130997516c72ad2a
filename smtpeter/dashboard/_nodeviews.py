"""
The dashboard's Nodes page: each node of the gateway with its last
heartbeat, its workers and the messages they hold now, and the queue's
counts (L{IAdministration.nodes<smtpeter.admin.IAdministration.nodes>},
as C{GET /v1/nodes} and C{smtpeter nodes} show them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._forms import Page
from ._html import row, status, table, tags

if TYPE_CHECKING:
    from ..admin import IAdministration


def _time(iso: str | None) -> str:
    """An API time (C{2026-12-07T12:31:04.120Z}) as the dashboard shows times (UTC), or a dash."""
    return "–" if not iso else iso[:19].replace("T", " ")


class NodeViews:
    """The Nodes page; a part of L{Pages<smtpeter.dashboard.Pages>}."""

    # What it uses of the Pages it is part of:
    admin: IAdministration

    async def nodes(self, request, session):
        found = await self.admin.nodes()
        body = [
            tags.p(class_="counts")(
                f"Queue: {found['queued']} queued, {found['held']} held. A node is down"
                " when it has not been seen for 3 of its leases; other nodes take its"
                " mail over."
            ),
            table(
                [
                    "Node",
                    "Status",
                    "Last seen (UTC)",
                    "Workers",
                    "Claimed",
                    "Host",
                    "Started (UTC)",
                ],
                (
                    row(
                        node["name"],
                        status(node["status"]),
                        _time(node["seen"]),
                        str(node["workers"]),
                        str(node["claimed"])
                        + (
                            " ("
                            + ", ".join(
                                f"worker {w}: {n}" for w, n in node["claimed_by_worker"].items()
                            )
                            + ")"
                            if node["claimed_by_worker"]
                            else ""
                        ),
                        node["host"],
                        _time(node["started"]),
                        **{"data-node": node["name"]},
                    )
                    for node in found["nodes"]
                ),
                empty="no nodes seen yet",
                class_="nodes stack",
            ),
        ]
        return Page("Nodes", body, "/nodes")
