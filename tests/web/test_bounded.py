"""
Request bodies have a ceiling kept by the HTTP channel (the fix for bodies
of any size read from unauthenticated clients): refused on the headers
before the body is read, or as a chunked body grows past it.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.testing import StringTransport
from twisted.web.resource import Resource

from smtpeter.web import BoundedSite


class Echo(Resource):
    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[bytes] = []

    def render_POST(self, request):
        body = request.content.read()
        self.bodies.append(body)
        return b"got %d" % len(body)


class Small(BoundedSite):
    maxBody = 1000

    def __init__(self, resource, screening=None) -> None:
        super().__init__(resource)
        self.screening = screening

    def screen(self, request, method, path, length):
        refusal = super().screen(request, method, path, length)
        if refusal is None and self.screening is not None:
            return self.screening
        return refusal


def connect(site):
    channel = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1234))
    transport = StringTransport()
    channel.makeConnection(transport)
    return channel, transport


def post(length: int | None) -> bytes:
    size = b"transfer-encoding: chunked" if length is None else b"content-length: %d" % length
    return b"POST /x HTTP/1.1\r\nhost: gw\r\n" + size + b"\r\n\r\n"


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def test_a_body_announced_larger_than_the_ceiling_is_refused_before_it_is_read():
    echo = Echo()
    channel, transport = connect(Small(echo))
    channel.dataReceived(post(1001))
    answer = transport.value()
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert answer.endswith(b'{"error": "the body is larger than 1000 bytes"}')
    assert b"connection: close" in answer
    assert transport.disconnecting
    channel.dataReceived(b"x" * 5000)  # whatever was on its way already is dropped
    assert echo.bodies == []
    assert transport.value() == answer


def test_a_body_up_to_the_ceiling_is_read():
    echo = Echo()
    channel, transport = connect(Small(echo))
    channel.dataReceived(post(1000) + b"x" * 1000)
    assert echo.bodies == [b"x" * 1000]
    assert transport.value().startswith(b"HTTP/1.1 200 ")
    assert not transport.disconnecting


def test_a_chunked_body_is_refused_as_it_grows_past_the_ceiling():
    echo = Echo()
    channel, transport = connect(Small(echo))
    channel.dataReceived(post(None))
    for _ in range(3):
        channel.dataReceived(chunk(b"y" * 300))
    assert transport.value() == b"" and not transport.disconnecting
    channel.dataReceived(chunk(b"y" * 101))
    assert transport.value().startswith(b"HTTP/1.1 413 ")
    assert transport.disconnecting
    channel.dataReceived(chunk(b"y" * 300) + b"0\r\n\r\n")
    assert echo.bodies == []


def test_a_chunked_body_within_the_ceiling_is_read():
    echo = Echo()
    channel, transport = connect(Small(echo))
    channel.dataReceived(post(None) + chunk(b"y" * 600) + chunk(b"y" * 400) + b"0\r\n\r\n")
    assert echo.bodies == [b"y" * 1000]


def test_the_site_may_refuse_on_the_headers_alone():
    echo = Echo()
    channel, transport = connect(Small(echo, screening=succeed((401, "no token"))))
    channel.dataReceived(post(10))
    assert transport.value().startswith(b"HTTP/1.1 401 ")
    assert transport.disconnecting


def test_a_later_refusal_closes_a_request_not_yet_handed_on():
    echo = Echo()
    later = Deferred()
    channel, transport = connect(Small(echo, screening=later))
    channel.dataReceived(post(100) + b"z" * 50)
    assert transport.value() == b""
    later.callback((401, "unknown or revoked token"))
    assert transport.value().startswith(b"HTTP/1.1 401 ")
    channel.dataReceived(b"z" * 50)
    assert echo.bodies == []


def test_a_refusal_that_comes_after_the_request_was_handed_on_changes_nothing():
    echo = Echo()
    later = Deferred()
    channel, transport = connect(Small(echo, screening=later))
    channel.dataReceived(post(100) + b"z" * 100)
    later.callback((401, "too late"))
    assert echo.bodies == [b"z" * 100]
    assert transport.value().startswith(b"HTTP/1.1 200 ")


def test_a_screening_that_lets_it_through_reads_it():
    echo = Echo()
    channel, transport = connect(Small(echo, screening=succeed(None)))
    channel.dataReceived(post(100) + b"z" * 100)
    assert echo.bodies == [b"z" * 100]


class Busy(Resource):
    isLeaf = True

    def render_GET(self, request):
        request.setResponseCode(int(request.args[b"code"][0]))
        return b"{}"


def test_an_answer_has_the_reason_phrase_twisted_lacks():
    """A resource's C{429} says C{Too Many Requests}, not Twisted's C{Unknown Status}."""
    for code, reason in ((429, b"Too Many Requests"), (431, b"Request Header Fields Too Large")):
        channel, transport = connect(Small(Busy()))
        channel.dataReceived(b"GET /?code=%d HTTP/1.1\r\nhost: gw\r\n\r\n" % code)
        assert transport.value().startswith(b"HTTP/1.1 %d %s\r\n" % (code, reason))
    channel, transport = connect(Small(Busy()))
    channel.dataReceived(b"GET /?code=404 HTTP/1.1\r\nhost: gw\r\n\r\n")
    assert transport.value().startswith(b"HTTP/1.1 404 Not Found\r\n")
