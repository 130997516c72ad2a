"""
The dashboard: server-rendered pages on twisted.web for what the CLI and the
management API do (SMTP logins, domains, webhooks, tokens, the queue) and
for what happened to the mail (the overview's counters, activity search,
each message's timeline, top links). Its own listener, C{--dashboard}.
"""

from ._pages import Pages
from ._sessions import Sessions
from ._site import makeDashboard

__all__ = ["Pages", "Sessions", "makeDashboard"]
