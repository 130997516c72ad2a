"""
The dashboard's views. Each takes the request and the session and returns
a L{Page}, a L{Redirect} (after a change) or a L{Download}. What they show
comes from the event store (statistics, search, timelines) and what they
change goes through the same L{Administration<smtpeter.admin.Administration>}
as the CLI and the REST API.

L{Pages} is one object made of a part per concern: L{StatsViews} (overview,
top links), L{MailViews} (activity, one message), L{QueueViews} (the queue
and its actions), L{NodeViews} (the nodes), L{AdminViews} (logins, tokens, webhooks),
L{DomainViews} (sender domains) and L{SuppressionViews} (the suppression list);
what a view reads and answers is in L{_forms<smtpeter.dashboard._forms>}.
"""

from __future__ import annotations

from collections.abc import Callable

from attrs import field, frozen
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.web.iweb import IAgent

from ..admin import IAdministration
from ..config import Config
from ..store import IEventStore
from ._adminviews import AdminViews
from ._domainviews import DomainViews
from ._forms import BadInput, Download, Page, Redirect, _searchQuery, arg
from ._mailviews import MailViews
from ._nodeviews import NodeViews
from ._previewviews import PreviewViews
from ._queueviews import QueueViews
from ._statsviews import StatsViews
from ._suppressionviews import SuppressionViews


@frozen
class Pages(
    StatsViews,
    MailViews,
    PreviewViews,
    QueueViews,
    NodeViews,
    AdminViews,
    DomainViews,
    SuppressionViews,
):
    events: IEventStore
    admin: IAdministration
    reactor: IReactorTime
    config: Config
    features: list = field(factory=list)
    #: The live DNS check of a domain's records (C{Deferred[dict]} of the domain's answer).
    checkDomain: Callable[[dict], Deferred] | None = None
    #: What sends a webhook's test event.
    agent: IAgent | None = None


__all__ = ["BadInput", "Download", "Page", "Pages", "Redirect", "_searchQuery", "arg"]
