"""
The REST API's tokens: every request carries C{Authorization: Bearer
TOKEN} (made with C{smtpeter token create}); L{Bearer} checks it, and
L{Authenticated} is the resource that asks it first.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from twisted.internet.interfaces import IReactorTime
from twisted.web.iweb import IRequest

from ..store import ADMIN_SCOPE as ADMIN
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
        """The request's token record; a change (any method but GET) needs an admin token."""
        record = await self._record(request)
        if request.method not in (b"GET", b"HEAD") and record.scope != ADMIN:
            raise HTTPError(
                403,
                f"token {record.name!r} may only read; changes need a token whose scope"
                " is admin (POST /v1/tokens with scope admin, by an admin token)",
            )
        return record

    def token(self, request: IRequest) -> str:
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

    async def record(self, request: IRequest) -> TokenRecord:
        """The request's token record, from its headers alone; a 401 if it is not one."""
        return await self._record(request)

    async def _record(self, request: IRequest) -> TokenRecord:
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
