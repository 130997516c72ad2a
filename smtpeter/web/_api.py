"""
The REST API under C{/v1}: events (filtered, paginated with a cursor),
messages (envelope, tags, options, status per recipient) and log files (one
day of one kind of event, streamed as JSON or CSV). Every request carries
C{Authorization: Bearer TOKEN} (made with C{smtpeter token create});
C{/v1/openapi.json} describes it all and needs no token.

Here are the events, stats and log files, and the tree under C{/v1}; the
token check is L{_bearer<smtpeter.web._bearer>}, messages and held mail
L{_messages<smtpeter.web._messages>}, suppressions
L{_suppressions<smtpeter.web._suppressions>}; the query parameters' grammar
is in L{_parameters<smtpeter.web._parameters>}, the log files' formats in
L{_logwriters<smtpeter.web._logwriters>}, and the administration's
resources in L{_manage<smtpeter.web._manage>}.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from attrs import evolve
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, Resource

from ..admin import IAdministration
from ..store import EVENT_TYPES as TYPES
from ..store import STATS_STEPS as STEPS
from ..store import EventQuery, IEventStore, StatsQuery, isoTime
from ._bearer import TOKEN_CACHE, Authenticated, Bearer
from ._logwriters import FORMATS, Paced, _CSVWriter, _JSONWriter
from ._manage import Domains, Logins, Queue, Tokens, Webhooks
from ._messages import Messages
from ._nodes import Nodes
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
from ._resources import AsyncLeaf, HTTPError, NotFound, segment
from ._suppressions import Suppressions

#: Rows read at a time for a log file.
BATCH = 500


class Events(Authenticated):
    """C{GET /v1/events}: events, filtered, a page at a time (C{next_cursor})."""

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

    def __init__(self, events: IEventStore, bearer: Bearer, clock: IReactorTime) -> None:
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


class LogFiles(Authenticated):
    """C{GET /v1/logfiles/{type}?date=}: one day of one kind of event, streamed."""

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
        day = time.strftime("%Y-%m-%d", time.gmtime(start))  # (as read: not the text given)
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
        if request.method == b"HEAD":
            return None  # its headers, without reading the day's rows for a body never sent
        finished = []
        request.notifyFinish().addBoth(finished.append)
        paced = Paced()
        request.registerProducer(paced, True)
        writer = _CSVWriter(kind) if form == "csv" else _JSONWriter()
        request.write(writer.start())
        after = 0
        try:
            while not finished and await paced.ready():
                batch = await self.events.day(kind, start, end, after, BATCH)
                if batch:
                    request.write(writer.rows(batch))
                    after = batch[-1].id
                if len(batch) < BATCH:
                    break
        finally:
            if not finished:
                request.unregisterProducer()
        if not finished:
            request.write(writer.end())
        return None


class OpenAPI(AsyncLeaf):
    """C{GET /v1/openapi.json}: the API described (no token needed)."""

    def allowedMethods(self, request) -> tuple[bytes, ...]:  # type: ignore[override]
        return self.methods if request.postpath in ([], [b""]) else ()

    async def handle(self, request: IRequest) -> Any:
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
            self.putChild(b"nodes", Nodes(admin, bearer))
            self.putChild(b"domains", Domains(admin, bearer, checkDomain))
            self.putChild(b"webhooks", Webhooks(admin, bearer, clock))
        self.putChild(b"events", Events(events, bearer))
        self.putChild(b"messages", Messages(events, bearer, clock, admin))
        self.putChild(b"logfiles", LogFiles(events, bearer))
        self.putChild(b"stats", Stats(events, bearer, clock))
        self.putChild(b"suppressions", Suppressions(events, bearer, clock, admin))
        self.putChild(b"openapi.json", OpenAPI())

    def getChild(self, path: bytes, request: IRequest) -> IResource:
        return NotFound()

    def render(self, request: IRequest) -> Any:
        """C{/v1} itself is no endpoint: a 404 in JSON, as below it, whatever the method."""
        return NotFound().render(request)


__all__ = ["API", "TOKEN_CACHE", "Bearer"]
