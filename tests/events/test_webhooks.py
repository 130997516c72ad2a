"""
Posting one event: a 2xx answer is a delivery however its body ends, and at
most MAX_ANSWER bytes of an answer are read, for at most the timeout.
"""

from __future__ import annotations

from twisted.internet.defer import succeed
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone
from twisted.web.http import PotentialDataLoss

from smtpeter.events._webhooks import MAX_ANSWER, post

from .conftest import Hook, _ensure, _result


class Transport:
    stopped = False

    def stopProducing(self):
        self.stopped = True


class Response:
    """A response whose body is C{chunks}, ended by C{end}."""

    def __init__(self, code: int, chunks: list[bytes], end: Exception) -> None:
        self.code = code
        self.chunks = chunks
        self.end = end
        self.transport = Transport()

    def deliverBody(self, protocol):
        protocol.makeConnection(self.transport)
        for chunk in self.chunks:
            if self.transport.stopped:
                break
            protocol.dataReceived(chunk)
        protocol.connectionLost(Failure(self.end))


class Answering:
    """An agent that answers every request with C{response}."""

    def __init__(self, response: Response) -> None:
        self.response = response

    def request(self, method, uri, headers=None, bodyProducer=None):
        return succeed(self.response)


def _postAnswered(response: Response, reactor=None):
    reactor = reactor or MemoryReactorClock()
    d = _ensure(post(Answering(response), reactor, Hook("http://h/"), "test", b"{}", "u", 10))
    return _result(d)


def test_a_2xx_whose_body_ends_at_close_is_a_delivery():
    """HTTP/1.0 without Content-Length: Twisted cannot tell the end from a cut."""
    assert _postAnswered(Response(200, [b"ok"], PotentialDataLoss())) == (200, None)
    assert _postAnswered(Response(204, [], ResponseDone())) == (204, None)


def test_other_answers_are_failures_whatever_their_body():
    assert _postAnswered(Response(500, [b"oops"], ResponseDone())) == (500, "HTTP 500")
    assert _postAnswered(Response(302, [], PotentialDataLoss())) == (302, "HTTP 302")


def test_at_most_max_answer_bytes_are_read():
    response = Response(200, [b"x" * 4096] * (MAX_ANSWER // 4096 + 100), PotentialDataLoss())
    assert _postAnswered(response) == (200, None)
    assert response.transport.stopped


class Stalled(Response):
    """Sends the start of a body, then nothing, and never ends it."""

    def deliverBody(self, protocol):
        protocol.makeConnection(self.transport)
        protocol.dataReceived(b"hello")
        self.protocol = protocol


def test_a_2xx_whose_body_stalls_is_a_delivery_after_the_timeout():
    reactor = MemoryReactorClock()
    response = Stalled(200, [], ResponseDone())
    d = _ensure(post(Answering(response), reactor, Hook("http://h/"), "test", b"{}", "u", 10))
    reactor.advance(9)
    assert not d.called and not response.transport.stopped
    reactor.advance(1)
    assert _result(d) == (200, None) and response.transport.stopped
