"""
What every resource of the web side shares: asynchronous rendering that
survives clients going away, JSON answers and errors.
"""

from __future__ import annotations

import json
import math
import re
from urllib.parse import unquote_to_bytes

from twisted.internet.defer import ensureDeferred
from twisted.logger import Logger
from twisted.web.http import INSUFFICIENT_STORAGE_SPACE, SERVICE_UNAVAILABLE
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from ..runtime import DiskFull, RepeatedErrors, isDamaged
from ..store import unavailable

log = Logger()
#: Errors that come again and again (a damaged database): once a minute, counted.
repeated = RepeatedErrors(log)
#: What a request that needs a damaged database is told.
DAMAGED = "the gateway's database is damaged; see the gateway's log"
#: ... and one that needs a database that cannot be reached now.
UNAVAILABLE = "the gateway's database cannot be reached now; try again shortly"


def storageError(error: BaseException) -> tuple[int, str] | None:
    """
    The status and the sentence with which every HTTP front end (the API,
    the dashboard) answers C{error} if it is a full disk (507, naming the
    directory), a damaged database (503) or one that cannot be reached
    now (503: PostgreSQL away); C{None} for any other error.
    """
    if isinstance(error, DiskFull):
        return INSUFFICIENT_STORAGE_SPACE, str(error)
    if isDamaged(error):
        return SERVICE_UNAVAILABLE, DAMAGED
    if unavailable(error):
        return SERVICE_UNAVAILABLE, UNAVAILABLE
    return None


class HTTPError(Exception):
    """An answer other than success, with a JSON body saying why."""

    def __init__(self, code: int, message: str, **more) -> None:
        super().__init__(message)
        self.code = code
        self.body = {"error": message, **more}


def loggable(request) -> bytes:
    """
    The request's URI as a log may show it: an C{access_token} in its query
    hidden, however its name is spelt (C{access%5Ftoken} is one too).
    """
    path, mark, query = (request.uri or b"").partition(b"?")
    pairs = [
        name + b"=..." if unquote_to_bytes(name.replace(b"+", b" ")) == b"access_token" else pair
        for pair in query.split(b"&")
        for name in [pair.partition(b"=")[0]]
    ]
    return path + mark + b"&".join(pairs)


def segments(request) -> list[str]:
    """
    The path's segments after the resource's own, as text (UTF-8, errors
    replaced). Twisted has percent-decoded each once already: decoding
    again would make C{a%2541@x} the address C{aA@x}, not C{a%41@x}.
    """
    return [part.decode("utf-8", "replace") for part in request.postpath or ()]


def segment(request) -> str:
    """The first path segment after the resource's own (L{segments}), or C{""}."""
    return (segments(request) or [""])[0]


MAX_BODY = 1024 * 1024
#: How deeply a body's arrays and objects may nest (the API's bodies nest two deep).
MAX_DEPTH = 20
#: Integers longer than this many digits are too large for any field.
MAX_DIGITS = 30
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKETS = bytes(range(256)).translate(None, b"[]{}")


def _depth(data: bytes) -> int:
    """How deeply the arrays and objects of the JSON text C{data} nest (at most)."""
    if data.count(b"[") + data.count(b"{") <= MAX_DEPTH:
        return 0  # cannot nest deeper than it has openers: the usual, quick case
    brackets = _STRINGS.sub(b"", data).translate(None, _BRACKETS)
    depth = deepest = 0
    for c in brackets:
        depth += 1 if c in b"[{" else -1
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
    return deepest


class _NotANumber(str):
    """C{NaN}, C{Infinity} or C{-Infinity} where a body has it: refused, by its field's name."""


def _constant(name: str):
    return _NotANumber(name)


def _notANumber(value) -> str | None:
    """The first L{_NotANumber} in C{value}, if any."""
    if isinstance(value, _NotANumber):
        return value
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            found = _notANumber(item)
            if found is not None:
                return found
    return None


class _Twice(ValueError):
    """A key given twice in one JSON object."""


def _object(pairs: list) -> dict:
    """A JSON object; a key given twice is an error (parsers differ on which wins)."""
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set = set()
        for key, _ in pairs:
            if key in seen:
                raise _Twice(key)
            seen.add(key)
    return found


def _integer(text: str):
    """A JSON integer; one too long for any field is infinite, which every check refuses."""
    if len(text.lstrip("-")) > MAX_DIGITS:
        return -math.inf if text.startswith("-") else math.inf
    return int(text)


def readJSON(request, limit: int = MAX_BODY) -> dict:
    """
    The request's body as a JSON object, or a 400 that says what is wrong
    with it (a 413 past C{limit} bytes).
    """
    data = request.content.read(limit + 1) if request.content is not None else b""
    if len(data) > limit:
        raise HTTPError(413, f"the body is larger than {limit} bytes")
    if _depth(data) > MAX_DEPTH:
        raise HTTPError(400, f"the body nests arrays or objects more than {MAX_DEPTH} deep")
    try:
        body = json.loads(
            data or b"{}", parse_constant=_constant, parse_int=_integer, object_pairs_hook=_object
        )
    except _Twice as e:
        field = str(e.args[0]).encode("utf-8", "backslashreplace").decode()[:100]
        raise HTTPError(400, f"{field}: given twice in one object", parameter=field)
    except RecursionError:
        raise HTTPError(400, f"the body nests arrays or objects more than {MAX_DEPTH} deep")
    except ValueError as e:
        raise HTTPError(400, f"the body is not JSON ({e})")
    if not isinstance(body, dict):
        found = _notANumber(body)
        if found is not None:
            raise HTTPError(400, f"the body is not JSON ({found} is not a JSON number)")
        raise HTTPError(400, "the body must be a JSON object")
    for name, value in body.items():
        found = _notANumber(value)
        if found is not None:
            field = name.encode("utf-8", "backslashreplace").decode()[:100]
            raise HTTPError(400, f"{field}: {found} is not a JSON number", parameter=field)
        if not _unicode(name) or not _unicode(value):
            field = name.encode("utf-8", "backslashreplace").decode()[:100]
            raise HTTPError(
                400,
                f"{field}: holds a lone surrogate (\\ud800 to \\udfff), which is not text",
                parameter=field,
            )
    return body


def _unicode(value) -> bool:
    """Whether every text in C{value} is Unicode that can be stored (no lone surrogates)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_unicode(k) and _unicode(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_unicode(v) for v in value)
    return True


def fields(body: dict, allowed: tuple[str, ...]) -> dict:
    """C{body}, if it has no field but C{allowed}; else a 400 naming the first other."""
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise HTTPError(
            400,
            f"{unknown[0][:100]}: unknown field; allowed: {', '.join(allowed) or 'none'}",
            parameter=unknown[0][:100],
        )
    return body


def noBody(request) -> None:
    """
    For a call that takes no fields: a 400 if its body holds any (C{{}} or
    nothing is the only body), so that a field sent to it, believed to
    matter, is never silently left unread.
    """
    fields(readJSON(request), ())


def noQuery(request) -> None:
    """For a call that takes no parameters: a 400 naming the first its query has."""
    query = (request.uri or b"").partition(b"?")[2]
    for pair in query.split(b"&"):
        name = unquote_to_bytes(pair.partition(b"=")[0].replace(b"+", b" "))
        if name:
            shown = name.decode("utf-8", "replace")[:100]
            raise HTTPError(400, f"{shown}: unknown parameter; allowed: none", parameter=shown)


def writeJSON(request, body, code: int = 200) -> None:
    """C{body} as the answer; one that says C{retry_after} (seconds) has C{Retry-After} too."""
    data = json.dumps(body, separators=(",", ":")).encode()
    request.setResponseCode(code)
    if isinstance(body, dict) and type(body.get("retry_after")) is int:
        request.setHeader(b"retry-after", b"%d" % body["retry_after"])
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

    # (Twisted's Resource declares allowedMethods a list, for its own render,
    # which this class replaces; overrides of this method repeat the ignore.)
    def allowedMethods(self, request) -> tuple[bytes, ...]:  # type: ignore[override]
        """The methods this request's path takes, in the order C{Allow} names them."""
        return self.methods

    def render(self, request):
        finished: list[object] = []
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
            storage = storageError(failure.value)
            if failure.check(HTTPError):
                writeJSON(request, failure.value.body, failure.value.code)
            elif storage is not None:
                # Not the client's fault, nor a bug: say where room is needed
                # (a full disk) or that the database is damaged (logged).
                if not failure.check(DiskFull):
                    repeated.failure(
                        "{method} {uri} failed",
                        failure,
                        method=request.method,
                        uri=loggable(request),
                    )
                writeJSON(request, {"error": storage[1]}, storage[0])
            else:
                repeated.failure(
                    "{method} {uri} failed", failure, method=request.method, uri=loggable(request)
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
    """Nothing here, whatever the method: 404."""

    def allowedMethods(self, request) -> tuple[bytes, ...]:  # type: ignore[override]
        return ()
