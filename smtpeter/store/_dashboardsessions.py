"""
The dashboard's sessions, one row each, so that logging out ends one on
the server: a session's cookie is signed (it cannot be forged without the
gateway's secret) and names its row; a cookie whose row is gone is no
session, in every worker process and after a restart. Rows past their
expiry are deleted whenever a session starts.
"""

from __future__ import annotations

from ._engine import Connection


class DashboardSessionStore:
    """Synchronous access to the dashboard's sessions."""

    def __init__(self, db: Connection) -> None:
        self.db = db

    def start(self, id: str, name: str, expires: float, now: float) -> None:
        self.db.execute("DELETE FROM dashboard_sessions WHERE expires <= ?", (now,))
        self.db.execute(
            "INSERT INTO dashboard_sessions (id, name, expires) VALUES (?, ?, ?)",
            (id, name, expires),
        )

    def live(self, id: str, now: float) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM dashboard_sessions WHERE id = ? AND expires > ?", (id, now)
        ).fetchone()
        return row is not None

    def end(self, id: str) -> None:
        self.db.execute("DELETE FROM dashboard_sessions WHERE id = ?", (id,))
