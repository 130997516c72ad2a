"""
Security regression (slowloris, trickled bodies, too many connections,
over-long request lines, bodies sent where none is taken): the limits the
HTTP channel keeps on every HTTP listener, driven with StringTransport and
a Clock.
"""

from __future__ import annotations

from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.web.resource import Resource

from smtpeter.web import BoundedSite, decodedPath

from .conftest import connect


class Echo(Resource):
    """GET anywhere; POST only on /form."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[bytes, bytes, bytes]] = []

    def render(self, request):
        body = request.content.read()
        self.seen.append((request.method, request.path, body))
        if request.method == b"POST" and request.path != b"/form":
            request.setResponseCode(405)
            return b"not here"
        return b"got %d" % len(body)


class Limited(BoundedSite):
    maxBody = 1000
    maxConnectionsPerAddress = 2
    requestTimeout = 30.0

    def takesBody(self, method, path):
        self.judged = path
        return method == b"POST" and path == "/form"


def makeSite():
    clock = Clock()
    echo = Echo()
    site = Limited(echo, reactor=clock)
    return site, echo, clock


def test_connections_over_the_limit_per_address_are_refused_without_reading():
    site, echo, clock = makeSite()
    first, _ = connect(site), connect(site)
    channel, transport = connect(site)
    answer = transport.value()
    assert answer.startswith(b"HTTP/1.1 429 Too Many Requests\r\n")
    assert b"retry-after: 10\r\n" in answer and b"connection: close" in answer
    assert b"at most 2 at once" in answer and transport.disconnecting
    channel.dataReceived(b"GET / HTTP/1.1\r\nhost: gw\r\n\r\n")
    assert echo.seen == [] and transport.value() == answer
    # Another address is counted apart; a closed connection frees its place.
    assert connect(site, "192.0.2.8")[1].value() == b""
    channel.connectionLost(None)
    first[0].connectionLost(None)
    assert dict(site.connections) == {"192.0.2.7": 1, "192.0.2.8": 1}
    assert connect(site)[1].value() == b""


def test_a_request_not_all_in_within_the_deadline_is_408():
    site, echo, clock = makeSite()
    channel, transport = connect(site)
    channel.dataReceived(b"POST /form HTTP/1.1\r\nhost: gw\r\ncontent-length: 900\r\n\r\n")
    for _ in range(29):  # a byte a second: the idle timeout never fires
        clock.advance(1)
        channel.dataReceived(b"x")
    assert transport.value() == b""
    clock.advance(1)
    answer = transport.value()
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"did not arrive within 30 seconds" in answer and transport.disconnecting
    assert echo.seen == []
    # A client that does not read its answer is aborted.
    clock.advance(channel.abortTimeout)
    assert transport.disconnected


def test_slow_headers_are_408_too():
    site, echo, clock = makeSite()
    channel, transport = connect(site)
    channel.dataReceived(b"GET / HTTP/1.1\r\n")
    for i in range(30):
        clock.advance(1)
        channel.dataReceived(b"x-%d: y\r\n" % i)
    assert transport.value().startswith(b"HTTP/1.1 408 ")


def test_the_deadline_starts_again_with_each_request_and_not_while_idle():
    site, echo, clock = makeSite()
    channel, transport = connect(site)
    channel.dataReceived(b"GET /a HTTP/1.1\r\nhost: gw\r\n\r\n")
    assert transport.value().startswith(b"HTTP/1.1 200 ")
    clock.advance(50)  # idle between requests: Twisted's idle timeout (60 s) alone
    assert not transport.disconnecting
    transport.clear()
    channel.dataReceived(b"GET /b HTTP/1.1\r\n")
    clock.advance(29)
    channel.dataReceived(b"host: gw\r\n\r\n")
    assert transport.value().startswith(b"HTTP/1.1 200 ")
    clock.advance(60)
    assert [path for _, path, _ in echo.seen] == [b"/a", b"/b"]
    assert b"408" not in transport.value()


def test_an_over_long_request_line_is_414():
    site, echo, clock = makeSite()
    channel, transport = connect(site)
    channel.dataReceived(b"GET /?q=" + b"a" * 20000 + b" HTTP/1.1\r\nhost: gw\r\n\r\n")
    answer = transport.value()
    assert answer.startswith(b"HTTP/1.1 414 URI Too Long\r\n")
    assert b"longer than 16 KiB" in answer and transport.disconnecting
    assert echo.seen == []


def test_too_many_or_too_large_headers_are_431():
    site, echo, clock = makeSite()
    channel, transport = connect(site)
    channel.dataReceived(
        b"GET / HTTP/1.1\r\n" + b"".join(b"x-%d: %s\r\n" % (i, b"b" * 28) for i in range(400))
    )
    answer = transport.value()
    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert b"more than 100 headers" in answer and transport.disconnecting
    channel, transport = connect(site, "192.0.2.9")
    channel.dataReceived(b"GET / HTTP/1.1\r\n" + b"x-big: " + b"c" * 9000 + b"\r\n")
    channel.dataReceived(b"x-big2: " + b"c" * 9000 + b"\r\n")
    answer = transport.value()
    assert answer.startswith(b"HTTP/1.1 431 ") and b"larger than 16 KiB" in answer
    assert echo.seen == []


def test_a_body_on_a_route_that_takes_none_is_never_read():
    site, echo, clock = makeSite()
    channel, transport = connect(site)
    channel.dataReceived(
        b"POST /c/xyz HTTP/1.1\r\nhost: gw\r\ncontent-length: 1000\r\nexpect: 100-continue\r\n\r\n"
    )
    answer = transport.value()
    # Answered at once as the route answers (405 here), then closed.
    assert answer.startswith(b"HTTP/1.1 405 ") and b"100 Continue" not in answer
    assert b"Connection: close" in answer and transport.disconnecting
    assert echo.seen == [(b"POST", b"/c/xyz", b"")]
    channel.dataReceived(b"x" * 1000)
    assert echo.seen == [(b"POST", b"/c/xyz", b"")]
    # Chunked, and a GET with a body, the same.
    channel, transport = connect(site)
    channel.dataReceived(b"GET /healthz HTTP/1.1\r\nhost: gw\r\ntransfer-encoding: chunked\r\n\r\n")
    assert transport.value().startswith(b"HTTP/1.1 200 ") and transport.disconnecting
    assert echo.seen[-1] == (b"GET", b"/healthz", b"")


def test_routes_are_judged_on_the_decoded_path():
    site, echo, clock = makeSite()
    channel, transport = connect(site)
    channel.dataReceived(b"POST /%66or%6D HTTP/1.1\r\nhost: gw\r\ncontent-length: 3\r\n\r\nabc")
    assert site.judged == "/form"
    assert echo.seen == [(b"POST", b"/%66or%6D", b"abc")]


def test_decoded_path():
    assert decodedPath(b"/%76%31/logins?x=/v1/") == "/v1/logins"
    assert decodedPath(b"/v1/../v1/./logins") == "/v1/logins"
    assert decodedPath(b"//v1//logins") == "/v1/logins"
    assert decodedPath(b"/../../v1/x") == "/v1/x"
    assert decodedPath(b"/v1/%2e%2e/c/x") == "/c/x"
    assert decodedPath(b"/v1/logins/..") == "/v1/"
    assert decodedPath(b"*") == "/*"
    assert decodedPath(b"/%ff") == "/\ufffd"


def test_the_api_takes_bodies_and_checks_tokens_on_the_decoded_path():
    from smtpeter.web import makeSite

    site = makeSite(None, None, None, Clock())
    for target in (b"/v1/logins", b"/%76%31/logins", b"/v1/../v1/logins", b"//v1/logins"):
        path = decodedPath(target)
        assert site.takesBody(b"POST", path), target
        channel, transport = connect(site)
        channel.dataReceived(
            b"POST %s HTTP/1.1\r\nhost: gw\r\ncontent-length: 500\r\n\r\n" % target
        )
        assert transport.value().startswith(b"HTTP/1.1 401 "), target
        assert b"Bearer" in transport.value() and transport.disconnecting
    for method, target in (
        (b"POST", b"/c/xyz"),
        (b"POST", b"/o/xyz"),
        (b"POST", b"/i/x.png"),
        (b"POST", b"/healthz"),
        (b"POST", b"/nonexistent"),
        (b"POST", b"/v1/openapi.json"),
        (b"POST", b"/v1/%2e%2e/c/x"),
        (b"GET", b"/v1/events"),
        (b"OPTIONS", b"/v1/logins"),
    ):
        assert not site.takesBody(method, decodedPath(target)), target


def test_the_dashboard_takes_bodies_on_its_forms_only():
    from types import SimpleNamespace

    from smtpeter.dashboard import makeDashboard

    site = makeDashboard(SimpleNamespace(admin=None, events=None, reactor=Clock()), None, None)
    assert site.takesBody(b"POST", "/login") and site.takesBody(b"POST", "/logout")
    assert site.takesBody(b"POST", "/logins/app1/password")
    assert site.takesBody(b"POST", "/tokens/")
    for method, path in ((b"GET", "/login"), (b"POST", "/"), (b"POST", "/static/dashboard.css")):
        assert not site.takesBody(method, path), path
    assert not site.takesBody(b"POST", "/nonexistent")


def test_bodies_held_at_once_have_a_ceiling():
    site, echo, clock = makeSite()
    site.maxBodiesHeld = 1500
    head = b"POST /form HTTP/1.1\r\nhost: gw\r\ncontent-length: 1000\r\n\r\n"
    first, firstTransport = connect(site)
    first.dataReceived(head + b"x" * 10)
    assert site.bodiesHeld == 1000
    second, secondTransport = connect(site, "192.0.2.8")
    second.dataReceived(head)
    answer = secondTransport.value()
    assert answer.startswith(b"HTTP/1.1 503 ") and b"retry-after: 10\r\n" in answer
    assert b"too many request bodies" in answer and secondTransport.disconnecting
    assert site.bodiesHeld == 1000
    # Chunked bodies count as they come.
    third, thirdTransport = connect(site, "192.0.2.9")
    third.dataReceived(b"POST /form HTTP/1.1\r\nhost: gw\r\ntransfer-encoding: chunked\r\n\r\n")
    third.dataReceived(b"190\r\n" + b"y" * 400 + b"\r\n")
    assert site.bodiesHeld == 1400 and thirdTransport.value() == b""
    third.dataReceived(b"c8\r\n" + b"y" * 200 + b"\r\n")
    assert thirdTransport.value().startswith(b"HTTP/1.1 503 ")
    # Answered or dropped, a body is no longer held.
    first.dataReceived(b"x" * 990)
    assert firstTransport.value().startswith(b"HTTP/1.1 200 ")
    assert site.bodiesHeld == 400
    third.connectionLost(Failure(ConnectionDone()))
    assert site.bodiesHeld == 0
    assert [body for _, _, body in echo.seen] == [b"x" * 1000]
