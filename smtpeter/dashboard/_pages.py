"""
The dashboard's views. Each takes the request and the session and returns
a L{Page}, a L{Redirect} (after a change) or a L{Download}. What they show
comes from the event store (statistics, search, timelines) and what they
change goes through the same L{Administration<smtpeter.admin.Administration>}
as the CLI and the REST API.
"""

from __future__ import annotations

import calendar
import io
import re
import time

from attrs import evolve, field, frozen
from twisted.web.template import Tag

from ..admin import recordsToPublish
from ..csvfile import CSVWriter
from ..events._webhooks import sendTest
from ..store._apitokens import ADMIN as ADMIN_SCOPE
from ..store._apitokens import READ
from ..store._events import STATUSES, TYPES, LinkQuery, MessageQuery
from ..store._queuerequests import DELETE, RELEASE, RETRY
from ..store._stats import KINDS, StatsQuery
from ._charts import SERIES, chart, counts
from ._html import (
    button,
    checkbox,
    form,
    link,
    path,
    row,
    secret,
    select,
    status,
    table,
    tags,
    when,
)
from ._html import (
    field as inputField,
)

#: The overview's time ranges: name -> (seconds, buckets by).
RANGES = {"24h": (86400, "hour"), "7d": (7 * 86400, "hour"), "30d": (30 * 86400, "day")}
#: Messages per page of activity, and at most in one CSV export.
PAGE, CSV_LIMIT = 50, 10_000
#: At most this much of a message's content is shown.
MAX_CONTENT = 256 * 1024
_SEARCH = ("messageid", "recipient", "sender", "subject", "tag", "login", "status", "start", "end")


@frozen
class Page:
    title: str
    body: list
    section: str = ""
    code: int = 200


@frozen
class Redirect:
    location: str
    notice: str = ""


@frozen
class Download:
    body: bytes
    contentType: bytes
    filename: str


class BadInput(Exception):
    """A form or query the dashboard cannot take; the text says what to change."""


def arg(request, name: str) -> str:
    values = request.args.get(name.encode())
    return values[0].decode("utf-8", "replace").strip() if values else ""


def args(request, name: str) -> list[str]:
    return [v.decode("utf-8", "replace") for v in request.args.get(name.encode(), [])]


def _day(text: str, name: str) -> float:
    try:
        return float(calendar.timegm(time.strptime(text, "%Y-%m-%d")))
    except ValueError:
        raise BadInput(f"{name}: a date as YYYY-MM-DD")


def _searchQuery(request, limit: int, before=None) -> MessageQuery:
    values = {name: arg(request, name) or None for name in _SEARCH}
    if values["messageid"] is not None:
        values["messageid"] = values["messageid"].upper()
        if not re.fullmatch("[0-9A-F]{20}", values["messageid"]):
            raise BadInput("message id: 20 hexadecimal characters, as in the 250 reply")
    if values["status"] is not None and values["status"] not in STATUSES:
        raise BadInput(f"status: one of {', '.join(STATUSES)}")
    if values["start"] is not None:
        values["start"] = _day(values["start"], "from")
    if values["end"] is not None:
        values["end"] = _day(values["end"], "to") + 86400  # the whole last day
    return MessageQuery(**values, before=before, limit=limit)


def _before(text: str):
    received, _, qid = text.partition(":")
    try:
        return (float(received), qid) if qid else None
    except ValueError:
        return None


def adding(session, heading: str, action: str, label: str, *fields) -> list:
    """For an admin, a form that adds one more of what a page lists; nothing for a viewer."""
    if not session.mayChange:
        return []
    return [tags.h2(heading), form(action, session, *fields, button(label), class_="stacked")]


@frozen
class Pages:
    events: object
    admin: object
    reactor: object
    config: object
    features: list = field(factory=list)
    checkDomain: object = None
    agent: object = None

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
                    tags.li(r.address, " ", status(_shown(f, r.address, held)))
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
            body.append(tags.h2("Content, as received"))
            body.append(
                tags.p(class_="hint")(
                    "Before the changes made per recipient (tracked links, DKIM signature)."
                )
            )
            shown = content[:MAX_CONTENT].decode("utf-8", "replace")
            body.append(tags.pre(class_="content")(shown))
            if len(content) > MAX_CONTENT:
                body.append(
                    tags.p(f"(the first {MAX_CONTENT // 1024} KiB of {len(content)} bytes)")
                )
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

    def _queueState(self, session, qid: str, queued: dict, asked: str | None, wasHeld) -> Tag:
        """
        Where a message in the queue stands: held (with Release and Delete for
        an admin), or queued. A release or delete asked for and not yet carried
        out (a node does it within a second) shows as done: the page a button
        leads to never offers that button again.
        """
        if asked == DELETE:
            return tags.p(class_="state")(
                status("deleting"), " Deleted: it leaves the queue within a second or two."
            )
        if queued.get("held") and asked != RELEASE:
            return tags.div(class_="held")(
                tags.p(
                    tags.strong("Held. "),
                    "This login is in hold mode: the message is"
                    " kept here and not delivered until you release it.",
                ),
                *(
                    [
                        form(path("messages", qid, "release"), session, button("Release")),
                        form(
                            path("messages", qid, "delete"),
                            session,
                            button("Delete", kind="danger"),
                        ),
                    ]
                    if session.mayChange
                    else []
                ),
            )
        if asked == RELEASE or wasHeld:
            text = " Released from hold: delivered now, retried if it must wait."
        else:
            text = " In the queue: each attempt shows in the timeline below."
        return tags.p(class_="state")(status("queued"), text)

    async def heldAction(self, request, session, qid: str, action: str):
        action = RELEASE if action == "release" else DELETE
        done = await self.admin.requestHeldAction(qid.upper(), action)
        if done is None:
            raise BadInput(f"{qid} is not held mail")
        verb = "released: it is delivered" if action == RELEASE else "deleted"
        # From the queue's list, back to the queue; from its page, to its page.
        back = "/queue" if arg(request, "back") == "queue" else path("messages", qid.upper())
        return Redirect(back, f"Message {qid.upper()} {verb} within a second or two.")

    # The queue --------------------------------------------------------------------

    async def queue(self, request, session):
        entries = await self.admin.queue()
        asked = await self.admin.pendingActions() if entries else {}
        held = [e for e in entries if e.get("held")]
        waiting = [e for e in entries if not e.get("held")]
        relay = self.config.relay
        hops: dict[str, list] = {}
        for entry in waiting:
            for recipient in entry["recipients"]:
                if recipient["status"] in ("delivered", "failed"):
                    continue
                hop = (
                    f"relay {relay.host}:{relay.port}"
                    if relay
                    else recipient["address"].rpartition("@")[2].lower()
                )
                hops.setdefault(hop, []).append((entry, recipient))
        body: list = []
        if not entries:
            body.append(
                tags.p(class_="empty")(
                    "The queue is empty: every message is delivered or has failed for good."
                )
            )
        for hop in sorted(hops):
            body.append(tags.h2(f"Next hop: {hop}", tags.span(class_="badge")(str(len(hops[hop])))))
            body.append(
                table(
                    [
                        "Message",
                        "Received (UTC)",
                        "Sender",
                        "Recipient",
                        "Attempts",
                        "Next attempt",
                        "Last error",
                        "",
                    ],
                    (self._queueRow(session, e, r, asked) for e, r in hops[hop]),
                    class_="queue stack",
                )
            )
        if held:
            body.append(tags.h2("Held (hold mode)"))
            body.append(
                table(
                    ["Message", "Received (UTC)", "Login", "Sender", "Recipients", ""],
                    (
                        row(
                            tags.a(href=path("messages", e["qid"]))(e["qid"]),
                            when(e["received"]),
                            e["login"],
                            e["sender"] or "<>",
                            ", ".join(r["address"] for r in e["recipients"]),
                            self._actions(
                                session, "messages", e["qid"], ("release", "delete"), asked
                            ),
                            **{"data-qid": e["qid"]},
                        )
                        for e in held
                    ),
                    class_="holding stack",
                )
            )
        return Page("Queue", body, "/queue")

    def _queueRow(self, session, entry, recipient, asked) -> Tag:
        return row(
            tags.a(href=path("messages", entry["qid"]))(entry["qid"]),
            when(entry["received"]),
            entry["sender"] or "<>",
            recipient["address"],
            str(recipient["attempts"]),
            when(recipient["next_attempt"]),
            recipient["last"] or "",
            self._actions(session, "queue", entry["qid"], ("retry", "delete"), asked),
            **{"data-qid": entry["qid"]},
        )

    def _actions(self, session, where: str, qid: str, actions, asked: dict) -> list:
        """
        The buttons of a queue row, which come back to the queue; once one was
        pressed (and until a node carries it out), what was asked instead.
        """
        if asked.get(qid) in (RELEASE, DELETE):
            return [status({RELEASE: "releasing", DELETE: "deleting"}[asked[qid]])]
        if not session.mayChange:
            return []
        labels = {"retry": "Retry now", "delete": "Delete", "release": "Release"}
        return [
            form(
                path(where, qid, a),
                session,
                *(
                    [tags.input(type="hidden", name="back", value="queue")]
                    if where == "messages"
                    else []
                ),
                button(labels[a], kind="danger" if a == "delete" else ""),
            )
            for a in actions
        ]

    async def queueAction(self, request, session, qid: str, action: str):
        await self.admin.requestQueueAction(qid, RETRY if action == "retry" else DELETE)
        verb = "retried" if action == "retry" else "deleted (with a DSN where one is due)"
        return Redirect("/queue", f"{qid.upper()} is {verb} within a second or two.")

    # SMTP logins ------------------------------------------------------------------

    async def logins(self, request, session):
        logins = await self.admin.listLogins()
        listed = table(
            ["Name", "Enabled", "Hold", "Features", "Click domain", "Last used (UTC)"],
            (
                row(
                    tags.a(href=path("logins", r["name"]))(r["name"]),
                    "yes" if r["enabled"] else "disabled",
                    "held" if r["hold"] else "",
                    ", ".join(r["features"]) or "–",
                    r["public_url"] or "the gateway's",
                    when(r["last_used"]),
                    **{"data-login": r["name"]},
                )
                for r in logins
            ),
            empty="No SMTP logins yet.",
        )
        body = [listed]
        body += adding(
            session,
            "Create an SMTP login",
            "/logins",
            "Create login",
            inputField("Name", "name", required="required", placeholder="shop"),
            tags.fieldset(
                tags.legend("Features"),
                *(checkbox(f, "features", False, f) for f in self.features),
            ),
            checkbox("Hold mode: keep its mail here, deliver nothing", "hold", False),
        )
        return Page("SMTP logins", body, "/logins")

    async def createLogin(self, request, session):
        made = await self.admin.createLogin(
            arg(request, "name"), args(request, "features"), bool(arg(request, "hold"))
        )
        return Page(f"Login {made['name']} created", self._password(made), "/logins", 201)

    def _password(self, made: dict) -> list:
        smtp = [d.split(":")[1] for d in self.config.smtp if d.split(":")[1:2]]
        return [
            secret(
                "Password:",
                made["password"],
                "Copy it now: it is shown only this once, and kept only as a hash.",
            ),
            tags.p(
                f"Send with user name {made['name']} over STARTTLS to {self.config.hostname}"
                f" port {smtp[0] if smtp else 587}, for example:"
            ),
            tags.pre(
                f"swaks --server {self.config.hostname}:{smtp[0] if smtp else 587} --tls"
                f" --auth-user {made['name']} --auth-password '{made['password']}'"
                " --from you@example.com --to someone@example.net"
            ),
            tags.p(tags.a(href=path("logins", made["name"]))(f"Back to {made['name']}")),
        ]

    async def login(self, request, session, name: str):
        record = await self.admin.login(name)
        facts = tags.dl(class_="facts")(
            tags.dt("Enabled"),
            tags.dd("yes" if record["enabled"] else "no"),
            tags.dt("Hold mode"),
            tags.dd("yes" if record["hold"] else "no"),
            tags.dt("Features"),
            tags.dd(", ".join(record["features"]) or "–"),
            tags.dt("Click domain"),
            tags.dd(record["public_url"] or "the gateway's"),
            tags.dt("Created"),
            tags.dd(when(record["created"])),
            tags.dt("Last used"),
            tags.dd(when(record["last_used"])),
        )
        body = [facts, tags.p(link("/activity", "Its messages", login=name))]
        if session.mayChange:
            body += [
                tags.h2("Change"),
                form(
                    path("logins", name),
                    session,
                    tags.fieldset(
                        tags.legend("Features"),
                        *(
                            checkbox(f, "features", f in record["features"], f)
                            for f in self.features
                        ),
                    ),
                    checkbox("Enabled", "enabled", record["enabled"]),
                    checkbox(
                        "Hold mode: keep its mail here, deliver nothing", "hold", record["hold"]
                    ),
                    inputField(
                        "Click domain (public URL; empty for the gateway's)",
                        "public_url",
                        record["public_url"] or "",
                        placeholder="https://click.example.com",
                    ),
                    button("Save"),
                    class_="stacked",
                ),
                tags.h2("Password"),
                form(path("logins", name, "password"), session, button("Reset password")),
                tags.details(
                    tags.summary("Delete this login…"),
                    form(
                        path("logins", name, "delete"),
                        session,
                        button(f"Delete {name} for good", kind="danger"),
                    ),
                ),
            ]
        return Page(f"SMTP login {name}", body, "/logins")

    async def updateLogin(self, request, session, name: str):
        await self.admin.updateLogin(
            name,
            features=[f for f in args(request, "features") if f],
            enabled=bool(arg(request, "enabled")),
            hold=bool(arg(request, "hold")),
            publicUrl=arg(request, "public_url"),
        )
        return Redirect(path("logins", name), f"Saved {name}.")

    async def resetLoginPassword(self, request, session, name: str):
        made = await self.admin.resetPassword(name)
        return Page(f"New password for {name}", self._password(made), "/logins")

    async def deleteLogin(self, request, session, name: str):
        await self.admin.deleteLogin(name)
        return Redirect("/logins", f"Deleted {name}.")

    # Sender domains ---------------------------------------------------------------

    async def domains(self, request, session):
        keys = await self.admin.listDomains()
        listed = table(
            ["Domain", "Selector", "Active", "Created (UTC)"],
            (
                row(
                    tags.a(href=path("domains", k["domain"]))(k["domain"]),
                    k["selector"],
                    "signing" if k["active"] else "retired",
                    when(k["created"]),
                )
                for k in keys
            ),
            empty="No sender domains yet: mail goes out without a DKIM signature.",
        )
        body = [listed]
        body += adding(
            session,
            "Add a sender domain",
            "/domains",
            "Add domain",
            inputField("Domain", "domain", required="required", placeholder="example.com"),
            inputField("Selector (optional)", "selector"),
        )
        return Page("Sender domains", body, "/domains")

    async def addDomain(self, request, session):
        made = await self.admin.addDomain(arg(request, "domain"), arg(request, "selector") or None)
        return Redirect(
            path("domains", made["domain"]), "Added. Publish the records below, then check them."
        )

    async def domain(self, request, session, domain: str):
        found = await self.admin.domain(domain)
        config = self.config
        wanted = recordsToPublish(found, config.hostname, config.bounceDomain, config.publicUrl)
        body = [
            tags.h2("Records to publish"),
            table(
                ["Purpose", "Name", "Type", "Value"],
                (row(r["kind"], r["name"], r["type"], tags.code(r["value"])) for r in wanted),
                class_="records stack",
            ),
        ]
        if arg(request, "check") and self.checkDomain is not None:
            checked = await self.checkDomain(found)
            body += [
                tags.h2("Live check: ", status("ok" if checked["ok"] else "failed")),
                table(
                    ["Purpose", "Name", "Found", "Result"],
                    (
                        row(
                            r["kind"],
                            r["name"],
                            ", ".join(r["found"]) or "nothing",
                            status("ok")
                            if r["ok"]
                            else tags.span(status("failed"), " ", r["problem"] or ""),
                            **{"data-kind": r["kind"]},
                        )
                        for r in checked["records"]
                    ),
                    class_="check",
                ),
            ]
        else:
            body.append(
                form(
                    path("domains", domain),
                    None,
                    tags.input(type="hidden", name="check", value="1"),
                    button("Check DNS now"),
                    method="get",
                )
            )
        body += [
            tags.h2("Keys"),
            table(
                ["Selector", "State", "Created (UTC)"],
                (
                    row(k["selector"], "signing" if k["active"] else "retired", when(k["created"]))
                    for k in found["keys"]
                ),
            ),
        ]
        if session.mayChange:
            body += [
                form(path("domains", domain, "rotate"), session, button("Rotate the key")),
                tags.details(
                    tags.summary("Delete this domain…"),
                    form(
                        path("domains", domain, "delete"),
                        session,
                        button(f"Delete {domain} and its keys", kind="danger"),
                    ),
                ),
            ]
        return Page(f"Domain {found['domain']}", body, "/domains")

    async def rotateDomain(self, request, session, domain: str):
        made = await self.admin.rotateDomain(domain)
        return Redirect(
            path("domains", domain),
            f"New key {made['selector']}: publish its record; the old key signs nothing more.",
        )

    async def deleteDomain(self, request, session, domain: str):
        await self.admin.deleteDomain(domain)
        return Redirect("/domains", f"Deleted {domain}.")

    # Webhooks ---------------------------------------------------------------------

    async def webhooks(self, request, session):
        hooks = await self.admin.listWebhooks()
        body: list = []
        for hook in hooks:
            state = "enabled" if hook["enabled"] else (hook["disabled_reason"] or "disabled")
            actions = []
            if session.mayChange:
                actions = [
                    form(
                        path("webhooks", str(hook["id"]), "test"),
                        session,
                        button("Send a test event"),
                    )
                ]
                if not hook["enabled"]:
                    actions.append(
                        form(path("webhooks", str(hook["id"]), "enable"), session, button("Enable"))
                    )
                actions.append(
                    form(
                        path("webhooks", str(hook["id"]), "delete"),
                        session,
                        button("Delete", kind="danger"),
                    )
                )
            body += [
                tags.h2(f"Webhook {hook['id']}: {hook['url']}"),
                tags.p(
                    f"Events: {', '.join(hook['events'])}. ",
                    state,
                    ". Last success: ",
                    when(hook["last_success"]),
                    ".",
                ),
                *actions,
                table(
                    ["Time (UTC)", "Event", "Attempt", "Result"],
                    (
                        row(
                            when(d["time"]),
                            f"{d['type']} {d['event']}",
                            str(d["attempt"]),
                            status("delivered") if d["delivered"] else d["error"],
                        )
                        for d in hook["deliveries"]
                    ),
                    empty="no deliveries yet",
                    class_="history",
                ),
            ]
        if not hooks:
            body.append(tags.p(class_="empty")("No webhooks yet."))
        body += adding(
            session,
            "Add a webhook",
            "/webhooks",
            "Add webhook",
            inputField(
                "URL",
                "url",
                required="required",
                kind="url",
                placeholder="https://app.example.com/hooks/mail",
            ),
            tags.fieldset(tags.legend("Events"), *(checkbox(t, "events", False, t) for t in TYPES)),
        )
        return Page("Webhooks", body, "/webhooks")

    async def addWebhook(self, request, session):
        made = await self.admin.addWebhook(arg(request, "url"), args(request, "events"))
        return Page(
            f"Webhook {made['id']} added",
            [
                secret(
                    "Signing secret:",
                    made["secret"],
                    "Copy it now: verify each POST with it (see docs/webhooks.md); it is not"
                    " shown again.",
                ),
                tags.p(tags.a(href="/webhooks")("Back to webhooks")),
            ],
            "/webhooks",
            201,
        )

    async def webhookAction(self, request, session, id: str, action: str):
        if action == "test":
            sent = await sendTest(self.admin, self.agent, self.reactor, int(id))
            answer = f"HTTP {sent['status']}" if sent["status"] else "no answer"
            if sent["delivered"]:
                return Redirect("/webhooks", f"Test event delivered to {sent['url']} ({answer}).")
            return Redirect("/webhooks", f"Test event not delivered: {sent['error']}.")
        if action == "enable":
            await self.admin.enableWebhook(int(id))
            return Redirect("/webhooks", f"Webhook {id} enabled.")
        await self.admin.deleteWebhook(int(id))
        return Redirect("/webhooks", f"Webhook {id} deleted.")

    # API tokens -------------------------------------------------------------------

    async def tokens(self, request, session):
        listed = table(
            ["Name", "Scope", "Created (UTC)", "Last used (UTC)", ""],
            (
                row(
                    t["name"],
                    t["scope"],
                    when(t["created"]),
                    when(t["last_used"]),
                    form(
                        path("tokens", t["name"], "delete"),
                        session,
                        button("Delete", kind="danger"),
                    )
                    if session.mayChange
                    else "",
                )
                for t in await self.admin.listTokens()
            ),
            empty="No API tokens yet.",
        )
        body = [listed]
        body += adding(
            session,
            "Create an API token",
            "/tokens",
            "Create token",
            inputField("Name", "name", required="required", placeholder="reporting"),
            select(
                "Scope",
                "scope",
                [(READ, "read: look only"), (ADMIN_SCOPE, "admin: change too")],
                READ,
            ),
        )
        return Page("API tokens", body, "/tokens")

    async def createToken(self, request, session):
        made = await self.admin.createToken(arg(request, "name"), arg(request, "scope") or READ)
        return Page(
            f"Token {made['name']} created",
            [
                secret(
                    "Token:",
                    made["token"],
                    "Copy it now: it is shown only this once. Send it as"
                    " 'Authorization: Bearer TOKEN'.",
                ),
                tags.p(tags.a(href="/tokens")("Back to tokens")),
            ],
            "/tokens",
            201,
        )

    async def deleteToken(self, request, session, name: str):
        await self.admin.deleteToken(name)
        return Redirect("/tokens", f"Deleted token {name}.")

    # Top links --------------------------------------------------------------------

    async def links(self, request, session):
        tag = arg(request, "tag")
        days = arg(request, "days")
        days = int(days) if days in ("1", "7", "30", "90") else 30
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


def _shown(found, address: str, held: set) -> str:
    """A recipient's status in a list of messages: held while its message is held."""
    state = found.recipients.get(address, {}).get("status", "queued")
    return "held" if state == "queued" and found.record.qid in held else state


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
    if event.type == "attempt":
        return "accepted; features: " + (", ".join(d.get("features", [])) or "none")
    return ""
