"""
The REST API's tokens: every request carries C{Authorization: Bearer
TOKEN} (made with C{smtpeter token create}); L{Bearer} checks it, and
L{Authenticated} is the resource that asks it first. A send token may only
send (C{POST /v1/send}, which also takes it as C{?access_token=}); read and
admin tokens may not.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

from twisted.internet.interfaces import IReactorTime
from twisted.web.iweb import IRequest

from ..store import ADMIN_SCOPE as ADMIN
from ..store import SEND_SCOPE as SEND
from ..store import TOKEN_PREFIX as PREFIX
from ..store import IEventStore, TokenRecord
from ._resources import AsyncLeaf, HTTPError

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

    async def check(self, request: IRequest) -> TokenRecord:
        """
        The request's token record; a change (any method but GET) needs an
        admin token, and a send token may do nothing here.
        """
        record = await self._record(request)
        if record.scope == SEND:
            raise HTTPError(
                403,
                f"token {record.name!r} is a send token: it may only send (POST /v1/send);"
                " reading and changes need a read or admin token",
            )
        if request.method not in (b"GET", b"HEAD") and record.scope != ADMIN:
            raise HTTPError(
                403,
                f"token {record.name!r} may only read; changes need a token whose scope"
                " is admin (POST /v1/tokens with scope admin, by an admin token)",
            )
        return record

    async def sender(self, request: IRequest) -> TokenRecord:
        """The request's send token (header or C{?access_token=}); a 403 for another token."""
        record = await self._record(request, query=True)
        if record.scope != SEND:
            raise HTTPError(
                403,
                f"token {record.name!r} may not send: sending needs a send token (smtpeter token"
                " create NAME --scope send --login LOGIN)",
            )
        return record

    def token(self, request: IRequest, query: bool = False) -> str:
        """
        The request's token, from its headers, or with C{query} from its
        C{access_token} parameter too; a 401 if it has none.
        """
        given = request.requestHeaders.getRawHeaders(b"authorization") or []
        if len(given) > 1:
            # Which one counts is a matter of taste (Twisted takes the last,
            # a proxy in front may check the first): neither does.
            raise HTTPError(400, "Authorization: give it once", parameter="Authorization")
        header = (given[0] if given else b"").decode("latin-1")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if query and not header:
            scheme, token = "bearer", _queryToken(request)
        if scheme.lower() != "bearer" or not token.startswith(PREFIX):
            raise HTTPError(
                401,
                "send a token as 'Authorization: Bearer TOKEN' (make one with: smtpeter token"
                " create NAME)",
            )
        return token

    async def record(self, request: IRequest, query: bool = False) -> TokenRecord:
        """The request's token record, from its headers alone; a 401 if it is not one."""
        return await self._record(request, query)

    async def _record(self, request: IRequest, query: bool = False) -> TokenRecord:
        token = self.token(request, query)
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


def _queryToken(request: IRequest) -> str:
    """The request's C{access_token} parameter, or C{""}."""
    args = getattr(request, "args", None)
    if args is None:  # screened before its body: only its target and headers are in
        target = getattr(getattr(request, "channel", None), "target", b"")
        args = parse_qs(target.partition(b"?")[2])
    given = args.get(b"access_token") or [b""]
    return given[0].decode("latin-1").strip()


class Authenticated(AsyncLeaf):
    """A resource that takes only requests with a good token (L{Bearer.check})."""

    def __init__(self, events: IEventStore, bearer: Bearer) -> None:
        super().__init__()
        self.events = events
        self.bearer = bearer

    async def handle(self, request: IRequest) -> Any:
        await self.bearer.check(request)
        return await self.authenticated(request)

    async def authenticated(self, request: IRequest) -> Any:
        """The answer to a request whose token was checked (a JSON-able value, or C{None})."""
        raise NotImplementedError()
