"""
C{/v1/suppressions}: the addresses mail is not sent to (listed, looked up,
added by hand, deleted). An entry's C{login} is its scope: C{null} for the
whole gateway (bounces, complaints), a login's name for that login's mail
(its recipient unsubscribed). C{?login=NAME} narrows each call to it.
"""

from __future__ import annotations

from typing import Any, cast

from twisted.internet.interfaces import IReactorTime
from twisted.web.iweb import IRequest

from ..admin import IAdministration
from ..store import (
    MANUAL,
    IEventStore,
    Invalid,
    ISuppressionStore,
    Missing,
    StoreError,
    suppressionExpiry,
    suppressionReason,
)
from ._bearer import Authenticated, Bearer
from ._parameters import Parameters
from ._resources import HTTPError, fields, noBody, readJSON, segment


class Suppressions(Authenticated):
    """
    C{GET /v1/suppressions}, C{GET|DELETE /v1/suppressions/{email}},
    C{POST /v1/suppressions} with C{{"email", "reason", "days", "login"}}.
    With C{?login=NAME}: a list of that login's entries; the entry that
    stops NAME's mail to C{email} (the gateway's, else NAME's own); the
    deletion of NAME's entry only (without it, every entry of C{email}).
    A new entry's login must exist (with C{admin} to ask); listing and
    deleting take any name, for the entries of a login deleted since.
    """

    methods = (b"GET", b"HEAD", b"POST", b"DELETE")

    def __init__(
        self,
        events: IEventStore,
        bearer: Bearer,
        clock: IReactorTime,
        admin: IAdministration | None = None,
    ) -> None:
        super().__init__(events, bearer)
        self.clock = clock
        self.admin = admin
        #: The suppression list: the event store keeps it (every store class has both).
        self.suppressions = cast(ISuppressionStore, events)

    async def authenticated(self, request: IRequest) -> Any:
        login = _login(Parameters(request, ("login",)).get("login"), "login")
        now = self.clock.seconds()
        if len(request.postpath) > 1 or (request.postpath == [b""] and request.method != b"GET"):
            raise HTTPError(404, "use /v1/suppressions or /v1/suppressions/{email}")
        address = segment(request)
        if request.method == b"POST":
            if address:
                raise HTTPError(405, "POST to /v1/suppressions, with the email in the body")
            if login is not None:
                raise HTTPError(400, "login: give it in the body", parameter="login")
            return await self._add(request, now)
        if not address:
            entries = await self.suppressions.suppressions(now, login)
            return {"suppressions": [e.toJSON() for e in entries]}
        if request.method == b"DELETE":
            noBody(request)
            try:
                await self.suppressions.unsuppress(address, login)
            except StoreError as e:
                raise HTTPError(404, str(e))
            return {"email": address, "deleted": True, "login": login}
        found = await self.suppressions.suppressed([address], now, login)
        if not found:
            scope = "" if login is None else f" for login {login}"
            raise HTTPError(404, f"{address} is not suppressed{scope}")
        return found[address].toJSON()

    async def _add(self, request: IRequest, now: float) -> Any:
        body = fields(readJSON(request), ("email", "reason", "days", "login"))
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
            login = _login(body.get("login"), "login")
            if login is not None and self.admin is not None:
                await self._exists(login)
            entry = await self.suppressions.suppress(address, reason, now, expires, None, login)
        except Invalid as e:
            raise HTTPError(400, str(e), parameter=e.field)
        except StoreError as e:
            raise HTTPError(400, f"email: {e}", parameter="email")
        request.setResponseCode(201)
        return entry.toJSON()

    async def _exists(self, login: str) -> None:
        """A 400 naming C{login} unless a login of that name exists."""
        assert self.admin is not None
        try:
            await self.admin.login(login)
        except Missing:
            raise HTTPError(400, f"login: no login named {login!r}", parameter="login") from None


#: The longest login name a suppression's scope may give.
MAX_LOGIN = 200


def _login(value: object, field: str) -> str | None:
    """A scope as given (C{None}: the whole gateway), or a 400 naming C{field}."""
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_LOGIN or value != value.strip():
        raise HTTPError(
            400,
            f"{field}: a login's name (1 to {MAX_LOGIN} characters), or none for the whole gateway",
            parameter=field,
        )
    return value
