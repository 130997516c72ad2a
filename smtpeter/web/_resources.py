"""
What every resource of the web side shares: asynchronous rendering that
survives clients going away, JSON answers and errors.
"""

from __future__ import annotations

import json

from twisted.internet.defer import ensureDeferred
from twisted.logger import Logger
from twisted.web.http import INSUFFICIENT_STORAGE_SPACE, SERVICE_UNAVAILABLE
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from .._diskerrors import DiskFull, isDamaged
from .._repeats import RepeatedErrors

log = Logger()
#: Errors that come again and again (a damaged database): once a minute, counted.
repeated = RepeatedErrors(log)


class HTTPError(Exception):
    """An answer other than success, with a JSON body saying why."""

    def __init__(self, code: int, message: str, **more) -> None:
        super().__init__(message)
        self.code = code
        self.body = {"error": message, **more}


def clientAddress(request) -> str:
    peer = request.getClientAddress()
    return getattr(peer, "host", "") or ""


def segment(request) -> str:
    """The first path segment after the resource's own."""
    return request.postpath[0].decode("ascii", "replace") if request.postpath else ""


MAX_BODY = 1024 * 1024


def readJSON(request) -> dict:
    """The request's body as a JSON object, or a 400 that says what is wrong with it."""
    data = request.content.read(MAX_BODY + 1) if request.content is not None else b""
    if len(data) > MAX_BODY:
        raise HTTPError(413, "the body is larger than 1 MiB")
    try:
        body = json.loads(data or b"{}")
    except ValueError as e:
        raise HTTPError(400, f"the body is not JSON ({e})")
    if not isinstance(body, dict):
        raise HTTPError(400, "the body must be a JSON object")
    return body


def writeJSON(request, body, code: int = 200) -> None:
    data = json.dumps(body, separators=(",", ":")).encode()
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"application/json")
    request.setHeader(b"cache-control", b"no-store")
    request.setHeader(b"content-length", b"%d" % len(data))
    request.write(data)


class AsyncLeaf(Resource):
    """
    A leaf whose C{handle(request)} is an C{async def}: its return value
    (C{bytes}, or anything JSON-able) is the body unless it wrote the
    response itself (C{None}); an L{HTTPError} becomes its JSON answer.
    It answers the methods L{allowedMethods} gives for the request (by
    default C{methods}; C{HEAD} wherever C{GET} is); any other gets 405, with
    C{Allow}; none at all is a 404 saying C{notFound}.
    """

    isLeaf = True
    methods: tuple[bytes, ...] = (b"GET", b"HEAD")
    notFound = "no such resource"

    def allowedMethods(self, request) -> tuple[bytes, ...]:
        """The methods this request's path takes, in the order C{Allow} names them."""
        return self.methods

    def render(self, request):
        finished = []
        request.notifyFinish().addBoth(finished.append)
        d = ensureDeferred(self._dispatch(request))

        def done(body):
            if finished:
                return  # the client went away
            if isinstance(body, bytes):
                request.write(body)
            elif body is not None:
                writeJSON(request, body, request.code)
            request.finish()

        def failed(failure):
            if finished:
                return
            if failure.check(HTTPError):
                writeJSON(request, failure.value.body, failure.value.code)
            elif failure.check(DiskFull):
                # Not the client's fault, nor a bug: say where room is needed.
                writeJSON(request, {"error": str(failure.value)}, INSUFFICIENT_STORAGE_SPACE)
            elif isDamaged(failure.value):
                repeated.failure(
                    "{method} {uri} failed", failure, method=request.method, uri=request.uri
                )
                writeJSON(
                    request,
                    {"error": "the gateway's database is damaged; see the gateway's log"},
                    SERVICE_UNAVAILABLE,
                )
            else:
                repeated.failure(
                    "{method} {uri} failed", failure, method=request.method, uri=request.uri
                )
                writeJSON(request, {"error": "internal error; see the gateway's log"}, 500)
            request.finish()

        d.addCallbacks(done, failed)
        return NOT_DONE_YET

    async def _dispatch(self, request):
        methods = self.allowedMethods(request)
        if not methods:
            raise HTTPError(404, self.notFound)
        if request.method not in methods and not (request.method == b"HEAD" and b"GET" in methods):
            allowed = ", ".join(m.decode() for m in methods)
            request.setHeader(b"allow", allowed.encode())
            raise HTTPError(
                405, f"{request.method.decode('latin-1')[:10]} is not allowed here; use {allowed}"
            )
        return await self.handle(request)

    async def handle(self, request):
        raise NotImplementedError


class NotFound(AsyncLeaf):
    async def handle(self, request):
        raise HTTPError(404, "no such resource")
