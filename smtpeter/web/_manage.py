"""
The management half of the REST API: C{/v1/logins}, C{/v1/tokens},
C{/v1/domains} and C{/v1/webhooks}, over the same L{Administration
<smtpeter.admin.Administration>} operations as the C{smtpeter} command.
Reading takes any token; a change takes an admin token (403 otherwise). A
method a path does not take gets 405 with C{Allow}; errors are JSON.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

from ..admin import IAdministration
from ..events import TEST_TIMEOUT, RefusedDestination, sendTest, webhookAgent
from ..store import DELETE, RETRY, Exists, Invalid, Missing, StoreError
from ._resources import AsyncLeaf, HTTPError, fields, noBody, noQuery, readJSON, segments

if TYPE_CHECKING:
    from ._api import Bearer

#: What answers one method of a path: C{handler(request)}, or C{handler(request, name)}.
Handler = Callable[..., Awaitable[object]]

#: A webhook's id: a number SQLite can hold.
_ID = re.compile(r"[1-9][0-9]{0,17}")


class Managed(AsyncLeaf):
    """
    A collection: C{route(parts)} maps the path below it to the handlers of
    each method there: C{async def handler(request)} for the collection,
    C{handler(request, name)} below it (C{name} the first part).
    """

    def __init__(self, admin: IAdministration, bearer: Bearer) -> None:
        super().__init__()
        self.admin = admin
        self.bearer = bearer

    def route(self, parts: list[str]) -> dict[bytes, Handler]:
        raise NotImplementedError

    def _route(self, request) -> tuple[list[str], dict[bytes, Handler]]:
        parts = segments(request)
        if parts and parts[-1] == "":
            parts.pop()
        return parts, self.route(parts)

    def allowedMethods(self, request) -> tuple[bytes, ...]:  # type: ignore[override]
        return tuple(self._route(request)[1])

    async def handle(self, request):
        parts, handlers = self._route(request)
        method = b"GET" if request.method == b"HEAD" else request.method
        await self.bearer.check(request)
        noQuery(request)
        try:
            return await handlers[method](request, *parts[:1])
        except Missing as e:
            raise HTTPError(404, withHint(e))
        except Exists as e:
            raise HTTPError(409, withHint(e))
        except Invalid as e:
            raise HTTPError(400, str(e), parameter=e.field)
        except StoreError as e:
            raise HTTPError(400, str(e))


#: Where the API lists each kind of thing a hint names (see L{store.Hint}).
_LISTED = {
    "login": "GET /v1/logins",
    "token": "GET /v1/tokens",
    "webhook": "GET /v1/webhooks",
    "domain": "GET /v1/domains",
    "queue": "GET /v1/queue",
}


def withHint(error: StoreError) -> str:
    """The error's text and, if the store gives a hint, the API call that helps."""
    hint = error.hint
    if hint is None:
        return str(error)
    if hint.action == "rotate":
        return f"{error}: POST /v1/domains/{hint.subject}/rotate gives it a new one"
    listed = _LISTED.get(hint.subject)
    return f"{error}; see {listed}" if listed else str(error)


def _created(request, body: dict) -> dict:
    request.setResponseCode(201)
    return body


def _field(body: dict, name: str, kind, required: bool = False, default=None):
    value = body.get(name, default)
    if value is None and not required:
        return default
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        what = {str: "a text", bool: "true or false", list: "a list", int: "a number"}[kind]
        raise HTTPError(400, f"{name}: {'required, ' if required else ''}{what}", parameter=name)
    return value


def _names(body: dict, name: str) -> list[str]:
    values = _field(body, name, list, default=[])
    if not all(isinstance(v, str) for v in values):
        raise HTTPError(400, f"{name}: a list of names", parameter=name)
    return values


#: A login's limits and sender domains, as the API names them, and as the administration does.
_LIMITS = {
    "rate": "rate",
    "quota": "quota",
    "over_quota": "overQuota",
    "sender_domains": "senderDomains",
}


def _limits(body: dict) -> dict:
    """The limits a login's body gives: C{null} lifts a rate or a quota."""
    limits: dict[str, Any] = {}
    for name, key in _LIMITS.items():
        if name not in body:
            continue
        if name == "sender_domains":
            limits[key] = _names(body, name)
        elif name == "over_quota":
            limits[key] = _field(body, name, str, required=True)
        else:
            value = _field(body, name, str)
            limits[key] = "none" if value is None else value
    return limits


class Logins(Managed):
    def route(self, parts):
        if not parts:
            return {b"GET": self.list, b"POST": self.create}
        if len(parts) == 1:
            return {b"GET": self.get, b"PATCH": self.update, b"DELETE": self.delete}
        if len(parts) == 2 and parts[1] == "password":
            return {b"POST": self.resetPassword}
        return {}

    async def list(self, request):
        return {"logins": await self.admin.listLogins()}

    async def create(self, request):
        body = fields(readJSON(request), ("name", "features", "hold", *_LIMITS))
        name = _field(body, "name", str, required=True)
        hold = _field(body, "hold", bool, default=False)
        features = _names(body, "features")
        return _created(request, await self.admin.createLogin(name, features, hold, _limits(body)))

    async def get(self, request, name):
        return await self.admin.login(name)

    async def update(self, request, name):
        body = fields(readJSON(request), ("features", "enabled", "public_url", "hold", *_LIMITS))
        changes: dict[str, Any] = {"limits": _limits(body)}  # updateLogin's keyword arguments
        if "features" in body:
            changes["features"] = _names(body, "features")
        if "enabled" in body:
            changes["enabled"] = _field(body, "enabled", bool, required=True)
        if "public_url" in body:
            changes["publicUrl"] = _field(body, "public_url", str, default="") or ""
        if "hold" in body:
            changes["hold"] = _field(body, "hold", bool, required=True)
        return await self.admin.updateLogin(name, **changes)

    async def resetPassword(self, request, name):
        noBody(request)
        return await self.admin.resetPassword(name)

    async def delete(self, request, name):
        noBody(request)
        return await self.admin.deleteLogin(name)


class Tokens(Managed):
    def route(self, parts):
        if not parts:
            return {b"GET": self.list, b"POST": self.create}
        if len(parts) == 1:
            return {b"DELETE": self.delete}
        return {}

    async def list(self, request):
        return {"tokens": await self.admin.listTokens()}

    async def create(self, request):
        body = fields(readJSON(request), ("name", "scope", "login"))
        name = _field(body, "name", str, required=True)
        scope = _field(body, "scope", str, default="read")
        login = _field(body, "login", str)
        return _created(request, await self.admin.createToken(name, scope, login))

    async def delete(self, request, name):
        noBody(request)
        return await self.admin.deleteToken(name)


class Domains(Managed):
    def __init__(
        self,
        admin: IAdministration,
        bearer: Bearer,
        check: Callable[[dict], Deferred] | None = None,
    ) -> None:
        super().__init__(admin, bearer)
        #: C{check(domain) -> Deferred[dict]}: the live DNS check of a domain's records.
        self.check = check

    def route(self, parts):
        if not parts:
            return {b"GET": self.list, b"POST": self.add}
        if len(parts) == 1:
            return {b"GET": self.get, b"DELETE": self.delete}
        if len(parts) == 2 and parts[1] == "rotate":
            return {b"POST": self.rotate}
        if len(parts) == 2 and parts[1] == "check" and self.check is not None:
            return {b"GET": self.checked}
        return {}

    async def checked(self, request, domain):
        assert self.check is not None  # routed to only when there is one
        return await self.check(await self.admin.domain(domain))

    async def list(self, request):
        return {"domains": await self.admin.listDomains()}

    async def add(self, request):
        body = fields(readJSON(request), ("domain", "selector"))
        domain = _field(body, "domain", str, required=True)
        selector = _field(body, "selector", str)
        return _created(request, await self.admin.addDomain(domain, selector))

    async def get(self, request, domain):
        return await self.admin.domain(domain)

    async def rotate(self, request, domain):
        body = fields(readJSON(request), ("selector",))
        return await self.admin.rotateDomain(domain, _field(body, "selector", str))

    async def delete(self, request, domain):
        noBody(request)
        return await self.admin.deleteDomain(domain)


class Webhooks(Managed):
    notFound = "no such webhook: an id is a number that GET /v1/webhooks lists"

    def __init__(self, admin: IAdministration, bearer: Bearer, reactor: IReactorTime) -> None:
        super().__init__(admin, bearer)
        self.reactor = reactor
        self.agent = webhookAgent(reactor, admin.destinations, TEST_TIMEOUT)

    def route(self, parts):
        if not parts:
            return {b"GET": self.list, b"POST": self.add}
        if not _ID.fullmatch(parts[0]):
            return {}
        if len(parts) == 1:
            return {b"DELETE": self.delete}
        if len(parts) == 2 and parts[1] == "enable":
            return {b"POST": self.enable}
        if len(parts) == 2 and parts[1] == "test":
            return {b"POST": self.test}
        return {}

    async def list(self, request):
        return {"webhooks": await self.admin.listWebhooks()}

    async def add(self, request):
        body = fields(readJSON(request), ("url", "events"))
        url = _field(body, "url", str, required=True)
        try:
            _ = urlsplit(url).port  # a URL Python cannot parse, or a port out of range
        except ValueError as e:
            raise HTTPError(400, f"url: {e}", parameter="url")
        try:
            made = await self.admin.addWebhook(url, _names(body, "events"))
        except RefusedDestination as e:
            raise HTTPError(400, str(e), parameter="url")
        return _created(request, made)

    async def delete(self, request, id):
        noBody(request)
        return await self.admin.deleteWebhook(int(id))

    async def enable(self, request, id):
        noBody(request)
        return await self.admin.enableWebhook(int(id))

    async def test(self, request, id):
        noBody(request)
        return await sendTest(self.admin, self.agent, self.reactor, int(id))


class Queue(Managed):
    def route(self, parts):
        if not parts:
            return {b"GET": self.list}
        if len(parts) == 1:
            return {b"DELETE": self.delete}
        if len(parts) == 2 and parts[1] == "retry":
            return {b"POST": self.retry}
        return {}

    async def list(self, request):
        return {"messages": await self.admin.queue()}

    async def retry(self, request, qid):
        noBody(request)
        request.setResponseCode(202)
        return await self.admin.requestQueueAction(qid, RETRY)

    async def delete(self, request, qid):
        noBody(request)
        request.setResponseCode(202)
        return await self.admin.requestQueueAction(qid, DELETE)


__all__ = ["Domains", "Logins", "Queue", "Tokens", "Webhooks"]
