"""
The REST API under C{/v1}: events (filtered, paginated with a cursor),
messages (envelope, tags, options, status per recipient) and log files (one
day of one kind of event, streamed as JSON or CSV). Every request carries
C{Authorization: Bearer TOKEN} (made with C{smtpeter token create});
C{/v1/openapi.json} describes it all and needs no token.

Here are the resources and the token check (L{Bearer}); the query
parameters' grammar is in L{_parameters<smtpeter.web._parameters>}, the log
files' formats in L{_logwriters<smtpeter.web._logwriters>}, and the
administration's resources in L{_manage<smtpeter.web._manage>}.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from urllib.parse import unquote

from attrs import evolve
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.web.resource import Resource

from ..admin import IAdministration
from ..store import ADMIN_SCOPE as ADMIN
from ..store import (
    DELETE,
    MANUAL,
    RELEASE,
    EventQuery,
    IEventStore,
    Invalid,
    StatsQuery,
    StoreError,
    TokenRecord,
    isoTime,
    recipientStatus,
    suppressionExpiry,
    suppressionReason,
)
from ..store import EVENT_TYPES as TYPES
from ..store import STATS_STEPS as STEPS
from ..store import TOKEN_PREFIX as PREFIX
from ._logwriters import FORMATS, _CSVWriter, _JSONWriter
from ._manage import Domains, Logins, Queue, Tokens, Webhooks
from ._openapi import document
from ._parameters import (
    MAX_LIMIT,
    TIME_WHY,
    Parameters,
    encodeCursor,
    parseCursor,
    parseDay,
    parseEmail,
    parseLimit,
    parseQid,
    parseTag,
    parseTime,
    parseType,
)
from ._resources import AsyncLeaf, HTTPError, NotFound, fields, readJSON, segment

#: Rows read at a time for a log file.
BATCH = 500
#: How long a checked token is trusted without asking the database again,
#: while no token is made or deleted anywhere (a deletion is seen at once).
TOKEN_CACHE = timedelta(seconds=10)


class Bearer:
    """
    Checks API tokens against the store, remembering good ones for C{ttl}
    on C{clock}, and only while the store's L{tokensMark
    <smtpeter.store.IEventStore.tokensMark>} stays: a token deleted by any
    process (the CLI, another worker's API) is refused at the next request.
    """

    def __init__(
        self, events: IEventStore, clock: IReactorTime, ttl: timedelta = TOKEN_CACHE
    ) -> None:
        self.events = events
        self.clock = clock
        self.ttl = ttl
        #: token -> (trusted until, the tokens' mark then, its record).
        self._known: dict[str, tuple[float, bytes, TokenRecord]] = {}

    async def check(self, request):
        """The request's token record; a change (any method but GET) needs an admin token."""
        record = await self._record(request)
        if request.method not in (b"GET", b"HEAD") and record.scope != ADMIN:
            raise HTTPError(
                403,
                f"token {record.name!r} may only read; changes need a token whose scope"
                " is admin (POST /v1/tokens with scope admin, by an admin token)",
            )
        return record

    def token(self, request) -> str:
        """The request's token, from its headers; a 401 if it has none."""
        header = (request.getHeader(b"authorization") or b"").decode("latin-1")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token.startswith(PREFIX):
            raise HTTPError(
                401,
                "send a token as 'Authorization: Bearer TOKEN' (make one with: smtpeter token"
                " create NAME)",
            )
        return token

    async def record(self, request):
        """The request's token record, from its headers alone; a 401 if it is not one."""
        return await self._record(request)

    async def _record(self, request):
        token = self.token(request)
        now = self.clock.seconds()
        # Read before the token is: a change after this read shows in the next.
        mark = self.events.tokensMark()
        known = self._known.get(token)
        if known is not None and known[0] > now and known[1] == mark:
            return known[2]
        record = await self.events.checkToken(token)
        if record is None:
            self._known.pop(token, None)
            raise HTTPError(401, "unknown or revoked token")
        if len(self._known) > 1000:
            self._known.clear()
        self._known[token] = (now + self.ttl.total_seconds(), mark, record)
        return record


class Authenticated(AsyncLeaf):
    def __init__(self, events, bearer: Bearer) -> None:
        super().__init__()
        self.events = events
        self.bearer = bearer

    async def handle(self, request):
        await self.bearer.check(request)
        return await self.authenticated(request)


class Events(Authenticated):
    PARAMETERS = ("messageid", "email", "tag", "start", "end", "type", "limit", "cursor")

    async def authenticated(self, request):
        if request.postpath not in ([], [b""]):
            raise HTTPError(404, "no such resource")
        p = Parameters(request, self.PARAMETERS)
        query = EventQuery(
            messageid=p.get("messageid", parseQid, "a message id is 20 hexadecimal characters"),
            email=p.get("email", parseEmail, "an email address"),
            tag=p.get("tag", parseTag, "a tag of 1 to 200 characters"),
            start=p.get("start", parseTime, TIME_WHY),
            end=p.get("end", parseTime, TIME_WHY),
            type=p.get("type", parseType, f"one of {', '.join(TYPES)}"),
            after=p.get("cursor", parseCursor, "use the next_cursor of an earlier answer") or 0,
            limit=p.get("limit", parseLimit, f"a whole number from 1 to {MAX_LIMIT}") or 100,
        )
        if query.start is not None and query.end is not None and query.end <= query.start:
            raise HTTPError(400, "end: must be later than start", parameter="end")
        limit = query.limit
        found = await self.events.events(evolve(query, limit=limit + 1))
        more = len(found) > limit
        found = found[:limit]
        return {
            "events": [e.toJSON() for e in found],
            "next_cursor": encodeCursor(found[-1].id) if more else None,
        }


class Stats(Authenticated):
    """C{GET /v1/stats}: the hourly counters, by hour or by day, for the overview."""

    PARAMETERS = ("start", "end", "by", "login", "tag", "domain")
    #: At most this many buckets in one answer.
    MAX_BUCKETS = 2000

    def __init__(self, events, bearer: Bearer, clock) -> None:
        super().__init__(events, bearer)
        self.clock = clock

    async def authenticated(self, request):
        if request.postpath not in ([], [b""]):
            raise HTTPError(404, "no such resource")
        p = Parameters(request, self.PARAMETERS)
        by = p.values.get("by", "hour")
        if by not in STEPS:
            raise HTTPError(400, "by: hour or day", parameter="by")
        now = self.clock.seconds()
        end = p.get("end", parseTime, TIME_WHY) or now
        start = p.get("start", parseTime, TIME_WHY)
        if start is None:
            start = end - (86400 if by == "hour" else 30 * 86400)
        if end <= start:
            raise HTTPError(400, "end: must be later than start", parameter="end")
        if (end - start) / STEPS[by] > self.MAX_BUCKETS:
            raise HTTPError(
                400, f"start: at most {self.MAX_BUCKETS} {by}s in one answer", parameter="start"
            )
        query = StatsQuery(
            start,
            end,
            by,
            login=p.get("login"),
            tag=p.get("tag", parseTag, "a tag of 1 to 200 characters"),
            domain=p.get("domain"),
        )
        found = await self.events.stats(query)
        for bucket in found["series"]:
            bucket["time"] = isoTime(bucket["timestamp"])
        return found


class Messages(Authenticated):
    """
    C{GET /v1/messages/{id}}: a message's record, status per recipient, and
    for held mail (hold mode) its content; C{POST .../release} delivers held
    mail, C{DELETE} drops it.
    """

    notFound = "use /v1/messages/{messageid}"
    #: At most this much of a held message's content is shown.
    MAX_CONTENT = 1024 * 1024

    def __init__(self, events, bearer: Bearer, admin: IAdministration | None = None) -> None:
        super().__init__(events, bearer)
        self.admin = admin

    def allowedMethods(self, request) -> tuple[bytes, ...]:
        parts = request.postpath
        if len(parts) == 1:
            return (b"DELETE", b"GET", b"HEAD") if self.admin is not None else (b"GET", b"HEAD")
        if len(parts) == 2 and parts[1] == b"release":
            return (b"POST",)
        return ()

    async def authenticated(self, request):
        Parameters(request, ())
        text = segment(request)
        try:
            qid = parseQid(text)
        except ValueError:
            raise HTTPError(
                400, "messageid: a message id is 20 hexadecimal characters", parameter="messageid"
            )
        if request.method in (b"POST", b"DELETE"):
            return await self._holdAction(request, qid)
        record = await self.events.message(qid)
        if record is None:
            raise HTTPError(404, f"no message {qid} (unknown, or older than the retention period)")
        events = await self.events.messageEvents(qid)
        status = recipientStatus(events)
        return {
            "messageid": record.qid,
            "received": isoTime(record.received),
            "envelope": {
                "sender": record.sender,
                "recipients": [r.address for r in record.recipients],
                "ret": record.ret,
                "envid": record.envid,
            },
            "message_id_header": record.options.get("message_id"),
            "subject": record.subject,
            "from": record.fromHeader,
            "size": record.size,
            "login": record.login,
            "tags": list(record.tags),
            "options": record.options,
            "dsn": record.isDSN,
            "recipients": [
                {
                    "email": r.address,
                    "notify": list(r.notify),
                    "orcpt": r.orcpt,
                    **{k: v for k, v in status.get(r.address, {"status": "queued"}).items()},
                }
                for r in record.recipients
            ],
            **await self._held(qid),
        }

    async def _held(self, qid: str) -> dict:
        if self.admin is None:
            return {"held": False}
        content = await self.admin.held(qid)
        if content is None:
            return {"held": False}
        return {
            "held": True,
            "content": content[: self.MAX_CONTENT].decode("utf-8", "replace"),
            "content_truncated": len(content) > self.MAX_CONTENT,
        }

    async def _holdAction(self, request, qid: str):
        action = RELEASE if request.method == b"POST" else DELETE
        requested = None if self.admin is None else await self.admin.requestHeldAction(qid, action)
        if requested is None:
            raise HTTPError(
                409,
                f"{qid} is not held mail (only a login in hold mode holds mail);"
                " a queued message is retried or deleted under /v1/queue",
            )
        request.setResponseCode(202)
        return requested


class LogFiles(Authenticated):
    async def authenticated(self, request):
        if len(request.postpath) != 1:
            raise HTTPError(404, "use /v1/logfiles/{type}?date=YYYY-MM-DD")
        kind = segment(request)
        if kind not in TYPES:
            raise HTTPError(
                400, f"type: one of {', '.join(TYPES)} (got {kind[:50]!r})", parameter="type"
            )
        p = Parameters(request, ("date", "format"))
        start = p.get("date", parseDay, "a date like 2026-11-23")
        if start is None:
            raise HTTPError(400, "date: required, a date like 2026-11-23", parameter="date")
        day = p.values["date"]
        form = p.values.get("format", "json")
        if form not in FORMATS:
            raise HTTPError(400, "format: json or csv", parameter="format")
        end = start + 86400
        request.setHeader(
            b"content-type", b"text/csv; charset=utf-8" if form == "csv" else b"application/json"
        )
        request.setHeader(
            b"content-disposition", f'attachment; filename="{kind}-{day}.{form}"'.encode()
        )
        finished = []
        request.notifyFinish().addBoth(finished.append)
        writer = _CSVWriter(kind) if form == "csv" else _JSONWriter()
        request.write(writer.start())
        after = 0
        while not finished:
            batch = await self.events.day(kind, start, end, after, BATCH)
            if batch:
                request.write(writer.rows(batch))
                after = batch[-1].id
            if len(batch) < BATCH:
                break
        if not finished:
            request.write(writer.end())
        return None


class Suppressions(Authenticated):
    """
    C{GET /v1/suppressions}, C{GET|DELETE /v1/suppressions/{email}},
    C{POST /v1/suppressions} with C{{"email", "reason", "days"}}.
    """

    methods = (b"GET", b"HEAD", b"POST", b"DELETE")

    def __init__(self, events, bearer: Bearer, clock) -> None:
        super().__init__(events, bearer)
        self.clock = clock

    async def authenticated(self, request):
        Parameters(request, ())
        now = self.clock.seconds()
        if len(request.postpath) > 1 or (request.postpath == [b""] and request.method != b"GET"):
            raise HTTPError(404, "use /v1/suppressions or /v1/suppressions/{email}")
        address = unquote(segment(request))
        if request.method == b"POST":
            if address:
                raise HTTPError(405, "POST to /v1/suppressions, with the email in the body")
            return await self._add(request, now)
        if not address:
            entries = await self.events.suppressions(now)
            return {"suppressions": [e.toJSON() for e in entries]}
        if request.method == b"DELETE":
            try:
                await self.events.unsuppress(address)
            except StoreError as e:
                raise HTTPError(404, str(e))
            return {"email": address, "deleted": True}
        found = await self.events.suppressed([address], now)
        if not found:
            raise HTTPError(404, f"{address} is not suppressed")
        return found[address].toJSON()

    async def _add(self, request, now: float):
        body = fields(readJSON(request), ("email", "reason", "days"))
        address = body.get("email")
        if not isinstance(address, str) or not address or len(address) > 320:
            raise HTTPError(
                400,
                "email: required, the address to suppress (at most 320 characters)",
                parameter="email",
            )
        try:
            reason = suppressionReason(body.get("reason", MANUAL))
            expires = suppressionExpiry(now, body.get("days", 0))
            entry = await self.events.suppress(address, reason, now, expires, None)
        except Invalid as e:
            raise HTTPError(400, str(e), parameter=e.field)
        except StoreError as e:
            raise HTTPError(400, f"email: {e}", parameter="email")
        request.setResponseCode(201)
        return entry.toJSON()


class OpenAPI(AsyncLeaf):
    async def handle(self, request):
        return document()


class API(Resource):
    def __init__(
        self,
        events: IEventStore,
        clock: IReactorTime,
        admin: IAdministration | None = None,
        checkDomain: Callable[[dict], Deferred] | None = None,
    ) -> None:
        super().__init__()
        self.bearer = bearer = Bearer(events, clock)
        if admin is not None:
            for name, resource in ((b"logins", Logins), (b"tokens", Tokens), (b"queue", Queue)):
                self.putChild(name, resource(admin, bearer))
            self.putChild(b"domains", Domains(admin, bearer, checkDomain))
            self.putChild(b"webhooks", Webhooks(admin, bearer, clock))
        self.putChild(b"events", Events(events, bearer))
        self.putChild(b"messages", Messages(events, bearer, admin))
        self.putChild(b"logfiles", LogFiles(events, bearer))
        self.putChild(b"stats", Stats(events, bearer, clock))
        self.putChild(b"suppressions", Suppressions(events, bearer, clock))
        self.putChild(b"openapi.json", OpenAPI())

    def getChild(self, path, request):
        return NotFound()


__all__ = ["API"]
