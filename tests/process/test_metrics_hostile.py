"""
Security regressions of the --metrics listener: it keeps the limits of the
other HTTP listeners. A plain Twisted site, it read a 200 MB body sent to
/metrics before answering 405, and took any number of connections from one
address (300 idle ones held 300 of the node's files).
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport

from smtpeter.process._metrics import metricsSite
from smtpeter.testing import serveHTTP

PEER = IPv4Address("TCP", "192.0.2.1", 40000)


def connect(site):
    channel = site.buildProtocol(PEER)
    transport = StringTransport(peerAddress=PEER)
    channel.makeConnection(transport)
    return channel, transport


def test_a_body_is_never_read():
    site = metricsSite(None)
    channel, transport = connect(site)
    channel.dataReceived(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 209715200\r\n\r\n")
    # Refused at once, and closed: the 200 MB never read.
    assert transport.value().startswith(b"HTTP/1.1 413 ") and transport.disconnecting
    channel, transport = connect(site)
    channel.dataReceived(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
    # A small one: answered as without it (no POST here), and closed unread.
    assert transport.value().startswith(b"HTTP/1.1 405 ") and transport.disconnecting


def test_one_address_holds_a_bounded_number_of_connections():
    site = metricsSite(None)
    held = [connect(site) for _ in range(site.maxConnectionsPerAddress)]
    assert not any(transport.disconnecting for _, transport in held)
    _, refused = connect(site)
    assert refused.value().startswith(b"HTTP/1.1 429 ") and refused.disconnecting


def test_a_scrape_still_reads_the_metrics():
    answer = serveHTTP(metricsSite(None), "GET", "/metrics")
    assert answer is not None and answer.code == 200
    assert answer.header("content-type").startswith("text/plain")


def test_other_paths_and_methods_are_told_in_plain_text():
    site = metricsSite(None)
    for path in ("/", "/metrics/x", "/other"):
        answer = serveHTTP(site, "GET", path)
        assert answer is not None and answer.code == 404, path
        assert answer.body == b"404 no such resource: GET /metrics\n"
    answer = serveHTTP(site, "DELETE", "/metrics")
    assert answer is not None and answer.code == 405 and answer.header("allow") == "GET, HEAD"
    assert answer.header("content-type") == "text/plain; charset=utf-8"
