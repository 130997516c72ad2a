"""
The dashboard's statistics: the overview (counters, chart, buckets) and the
links clicked most.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..store import STATS_KINDS as KINDS
from ..store import LinkQuery, StatsQuery
from ._charts import SERIES, chart, counts
from ._forms import (
    Page,
    arg,
)
from ._html import (
    button,
    form,
    row,
    select,
    table,
    tags,
)
from ._html import (
    field as inputField,
)

#: The overview's time ranges: name -> (seconds, buckets by).
RANGES = {"24h": (86400, "hour"), "7d": (7 * 86400, "hour"), "30d": (30 * 86400, "day")}


if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime

    from ..admin import IAdministration
    from ..store import IEventStore


class StatsViews:
    """The overview and top links; a part of L{Pages<smtpeter.dashboard.Pages>}."""

    # What it uses of the Pages it is part of:
    events: IEventStore
    admin: IAdministration
    reactor: IReactorTime

    # Overview ---------------------------------------------------------------------

    async def overview(self, request, session):
        span = arg(request, "range")
        span = span if span in RANGES else "24h"
        seconds, by = RANGES[span]
        step = 3600 if by == "hour" else 86400
        end = (self.reactor.seconds() // step + 1) * step
        login, tag, domain = arg(request, "login"), arg(request, "tag"), arg(request, "domain")
        query = StatsQuery(end - seconds, end, by, login or None, tag or None, domain or None)
        found = await self.events.stats(query)
        logins = [name["name"] for name in await self.admin.listLogins()]
        filters = form(
            "/",
            None,
            select(
                "Period", "range", [("24h", "24 hours"), ("7d", "7 days"), ("30d", "30 days")], span
            ),
            select("Login", "login", [("", "every login"), *((n, n) for n in logins)], login),
            inputField("Tag", "tag", tag),
            inputField("Sender domain", "domain", domain, placeholder="example.com"),
            button("Show"),
            method="get",
            class_="filters",
        )
        totals = counts({"counts": found["totals"]})
        bounces = sorted((k.partition(":")[2], v) for k, v in totals.items() if ":" in k)
        held = len(await self.admin.heldMessages())
        cards = tags.div(class_="cards")(
            *(
                tags.div(class_=f"card {kind}", **{"data-kind": kind})(
                    tags.span(class_="number")(str(totals.get(kind, 0))), tags.span(kind)
                )
                for kind, _ in SERIES
            ),
            # Not a count of events in the period: what waits in hold mode now.
            tags.a(
                class_="card held waiting" if held else "card held",
                href="/activity?status=held",
                **{"data-kind": "held"},
            )(tags.span(class_="number")(str(held)), tags.span("held now")),
        )
        byClass = tags.p(
            "Bounces by class: ",
            ", ".join(f"{c} {n}" for c, n in bounces) if bounces else "none",
        )
        kinds = [k for k in KINDS if k != "bounced"] + ["bounced"]
        buckets = table(
            [by, *kinds],
            (
                row(
                    time.strftime(
                        "%Y-%m-%d %H:00" if by == "hour" else "%Y-%m-%d",
                        time.gmtime(b["timestamp"]),
                    ),
                    *(str(counts(b).get(k, 0)) for k in kinds),
                )
                for b in reversed(found["series"])
                if b["counts"]
            ),
            empty="no events in this period",
        )
        return Page(
            "Overview",
            [
                filters,
                cards,
                chart(found),
                byClass,
                tags.details(tags.summary(f"Counts per {by}"), buckets),
            ],
            "/",
        )

    # Top links --------------------------------------------------------------------

    async def links(self, request, session):
        tag = arg(request, "tag")
        given = arg(request, "days")
        days = int(given) if given in ("1", "7", "30", "90") else 30
        now = self.reactor.seconds()
        found = await self.events.topLinks(LinkQuery(now - days * 86400, now + 1, tag or None))
        filters = form(
            "/links",
            None,
            inputField("Tag", "tag", tag),
            select(
                "Period",
                "days",
                [("1", "1 day"), ("7", "7 days"), ("30", "30 days"), ("90", "90 days")],
                str(days),
            ),
            button("Show"),
            method="get",
            class_="filters",
        )
        listed = table(
            ["Link", "Clicks", "Recipients who clicked"],
            (row(f["url"], str(f["clicks"]), str(f["recipients"])) for f in found),
            empty="No clicks in this period.",
            class_="links",
        )
        return Page("Top links", [filters, listed], "/links")
