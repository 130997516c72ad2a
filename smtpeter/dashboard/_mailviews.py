"""
The dashboard's mail views: activity (search, pages, CSV export) and one
message (envelope, timelines per recipient, links).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from attrs import evolve

from ..csvfile import CSVWriter
from ..store import MESSAGE_STATUSES as STATUSES
from ._forms import (
    _SEARCH,
    BadInput,
    Download,
    Page,
    _before,
    _searchQuery,
    arg,
)
from ._html import (
    button,
    form,
    link,
    path,
    row,
    select,
    status,
    table,
    tags,
    when,
)
from ._html import (
    field as inputField,
)

#: Messages per page of activity, and at most in one CSV export.
PAGE, CSV_LIMIT = 50, 10_000


if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime
    from twisted.web.template import Tag

    from ..admin import IAdministration
    from ..config import Config
    from ..store import IEventStore


class MailViews:
    """Activity and one message; a part of L{Pages<smtpeter.dashboard.Pages>}."""

    # What it uses of the Pages it is part of:
    events: IEventStore
    admin: IAdministration
    reactor: IReactorTime
    config: Config
    _queueState: Callable[..., Tag]  # QueueViews'
    contentSection: Callable[..., Coroutine[Any, Any, list]]  # PreviewViews'

    # Activity ---------------------------------------------------------------------

    async def activity(self, request, session):
        try:
            query = _searchQuery(request, PAGE, _before(arg(request, "before")))
            found = await self.events.searchMessages(query)
            problem = ""
        except BadInput as e:
            query, found, problem = None, [], str(e)
        full = len(found) == PAGE
        held: set[str] = set()
        if any(f.record.options.get("hold") for f in found):
            held = set(await self.admin.heldMessages())
        if query is not None and query.status in ("queued", "held"):
            # The event log cannot tell held mail released a moment ago from
            # mail still held; the spools can.
            found = [f for f in found if (f.record.qid in held) == (query.status == "held")]
        logins = [name["name"] for name in await self.admin.listLogins()]
        shown = {name: arg(request, name) for name in _SEARCH}
        search = form(
            "/activity",
            None,
            inputField("Message id", "messageid", shown["messageid"]),
            inputField("Recipient", "recipient", shown["recipient"]),
            inputField("Sender", "sender", shown["sender"]),
            inputField("Subject", "subject", shown["subject"]),
            inputField("Tag", "tag", shown["tag"]),
            select("Login", "login", [("", "any"), *((n, n) for n in logins)], shown["login"]),
            select("Status", "status", [("", "any"), *((s, s) for s in STATUSES)], shown["status"]),
            inputField("From", "start", shown["start"], kind="date"),
            inputField("To", "end", shown["end"], kind="date"),
            button("Search"),
            method="get",
            class_="filters",
        )
        rows = []
        for f in found:
            record = f.record
            recipients = tags.ul(class_="recipients")(
                *(
                    tags.li(
                        r.address,
                        " ",
                        status(_shown(f, r.address, held)),
                        *_unsubscribed(f, r.address),
                    )
                    for r in record.recipients
                )
            )
            rows.append(
                row(
                    tags.span(class_="nowrap")(when(record.received)),
                    tags.a(href=path("messages", record.qid))(record.subject or "(no subject)"),
                    record.fromHeader or record.sender or "<>",
                    record.login or "",
                    recipients,
                    ", ".join(record.tags),
                    **{"data-qid": record.qid},
                )
            )
        results = table(
            ["Received (UTC)", "Subject", "From", "Login", "Recipients", "Tags"],
            rows,
            empty="no messages match",
            class_="activity stack",
        )
        more = []
        if full:
            last = found[-1].record
            more.append(
                link(
                    "/activity", "Older messages →", **shown, before=f"{last.received!r}:{last.qid}"
                )
            )
        export = link("/activity.csv", "Export as CSV", **shown)
        return Page(
            "Activity",
            [
                search,
                tags.p(class_="problem")(problem) if problem else "",
                tags.p(export),
                results,
                *more,
            ],
            "/activity",
        )

    async def activityCSV(self, request, session):
        out = io.StringIO()
        writer = CSVWriter(out)
        writer.writerow(
            [
                "messageid",
                "received",
                "login",
                "sender",
                "from",
                "subject",
                "tags",
                "recipient",
                "status",
                "attempts",
                "opens",
                "clicks",
                "last_error",
            ]
        )
        query, written = _searchQuery(request, 500), 0
        held = set(await self.admin.heldMessages())
        while written < CSV_LIMIT:
            found = await self.events.searchMessages(query)
            for f in found:
                r = f.record
                if query.status in ("queued", "held") and (r.qid in held) != (
                    query.status == "held"
                ):
                    continue
                for recipient in r.recipients:
                    state = f.recipients.get(recipient.address, {})
                    writer.writerow(
                        (
                            r.qid,
                            when(r.received),
                            r.login,
                            r.sender,
                            r.fromHeader,
                            r.subject,
                            ",".join(r.tags),
                            recipient.address,
                            _shown(f, recipient.address, held),
                            state.get("attempts", 0),
                            state.get("opens", 0),
                            state.get("clicks", 0),
                            state.get("last_error", ""),
                        )
                    )
            written += len(found)
            if len(found) < 500:
                break
            query = evolve(query, before=(found[-1].record.received, found[-1].record.qid))
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(self.reactor.seconds()))
        return Download(
            out.getvalue().encode(), b"text/csv; charset=utf-8", f"smtpeter-activity-{stamp}.csv"
        )

    # One message ------------------------------------------------------------------

    async def message(self, request, session, qid: str):
        qid = qid.upper()
        record = await self.events.message(qid)
        queued = await self.admin.queued(qid)
        if record is None and queued is None:
            return None
        body: list = []
        if queued is not None:
            asked = (await self.admin.pendingActions()).get(qid)
            wasHeld = record is not None and record.options.get("hold")
            body.append(self._queueState(session, qid, queued, asked, wasHeld))
        if record is not None:
            events = await self.events.messageEvents(qid)
            sentLinks = await self.events.links(qid)
            body += self._record(record, events, sentLinks)
        content = queued["content"] if queued is not None else await self.admin.sent(qid)
        if content is not None:
            body += await self.contentSection(request, qid, content)
        else:
            body.append(
                tags.p(class_="empty")(
                    f"The content is kept for {self.config.keepSent:g} days after the message"
                    " leaves the queue (--keep-sent); this one's is gone."
                )
            )
        title = record.subject if record is not None and record.subject else qid
        return Page(title or "(no subject)", body, "/activity")

    def _record(self, record, events, sentLinks) -> list:
        envelope = tags.dl(class_="facts")(
            tags.dt("Message id"),
            tags.dd(tags.code(record.qid)),
            tags.dt("Received"),
            tags.dd(when(record.received)),
            tags.dt("Login"),
            tags.dd(record.login or "–"),
            tags.dt("Envelope sender"),
            tags.dd(record.sender or "<>"),
            tags.dt("From"),
            tags.dd(record.fromHeader or "–"),
            tags.dt("Subject"),
            tags.dd(record.subject or "–"),
            tags.dt("Message-ID"),
            tags.dd(record.options.get("message_id") or "–"),
            tags.dt("Size"),
            tags.dd(f"{record.size} bytes" if record.size is not None else "–"),
            tags.dt("Tags"),
            tags.dd(", ".join(record.tags) or "–"),
            tags.dt("Features"),
            tags.dd(", ".join(record.options.get("features", [])) or "–"),
        )
        byRecipient: dict[str, list] = {}
        for event in events:
            byRecipient.setdefault(event.recipient, []).append(event)
        timelines = []
        for recipient in record.recipients:
            timeline = byRecipient.get(recipient.address, [])
            timelines.append(tags.h3(recipient.address))
            timelines.append(
                table(
                    ["Time (UTC)", "Event", "Details"],
                    (
                        row(
                            when(e.time),
                            status(e.type),
                            _details(e),
                            **{"class": f"event {e.type}"},
                        )
                        for e in timeline
                    ),
                    empty="no events yet",
                    class_="timeline",
                )
            )
        clicks: dict[int, int] = {}
        for event in events:
            if event.type == "click" and isinstance(event.details.get("link"), int):
                clicks[event.details["link"]] = clicks.get(event.details["link"], 0) + 1
        linked = []
        if sentLinks:
            linked = [
                tags.h2("Links"),
                table(
                    ["Link", "Clicks"],
                    (row(url, str(clicks.get(i, 0))) for i, url in enumerate(sentLinks)),
                ),
            ]
        return [envelope, tags.h2("Recipients"), *timelines, *linked]


def _shown(found, address: str, held: set) -> str:
    """A recipient's status in a list of messages: held while its message is held."""
    state = found.recipients.get(address, {}).get("status", "queued")
    return "held" if state == "queued" and found.record.qid in held else state


def _unsubscribed(found, address: str) -> list:
    """The mark of a recipient that unsubscribed with this message's link."""
    return (
        [" ", status("unsubscribed")]
        if found.recipients.get(address, {}).get("unsubscribed")
        else []
    )


def _details(event) -> str:
    """One line about an event for a timeline."""
    d = event.details
    if event.type in ("delivery", "failure"):
        reply = f"{d.get('code', '')} {d.get('text', '')}".strip()
        hop = d.get("mx") or d.get("host") or ""
        extra = f" (attempt {d['attempt']})" if d.get("attempt") else ""
        return " ".join(p for p in (reply, f"via {hop}" if hop else "") if p) + extra
    if event.type == "bounce":
        return f"{d.get('class', '')} {d.get('reason', '')}: {d.get('text', '')}".strip(": ")
    if event.type == "click":
        return f"{d.get('destination', '')} from {d.get('ip', '')}"
    if event.type == "open":
        return f"open {d.get('number', '')} from {d.get('ip', '')}"
    if event.type == "warning":
        return str(d.get("text") or d.get("warning") or "")
    if event.type == "unsubscribe":
        how = "one-click" if d.get("one_click") else "from the page"
        scope = f"login {d['login']}'s mail" if d.get("login") else "all mail"
        return f"from {scope} ({how}) from {d.get('ip', '')}"
    if event.type == "attempt":
        return "accepted; features: " + (", ".join(d.get("features", [])) or "none")
    return ""
