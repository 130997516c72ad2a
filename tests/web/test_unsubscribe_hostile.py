"""
C{/u/TOKEN} against a hostile client: a chunked body (no Content-Length)
is cut at the unsubscribe pages' own 4 KiB, as one that announces its
length is, not at the API's 1 MiB; nothing is unsubscribed.
"""

from __future__ import annotations

from twisted.internet.task import Clock

from smtpeter.features import TokenSigner
from smtpeter.store import MemoryStore
from smtpeter.web import makeSite

from .conftest import rawRequest


def test_a_chunked_body_is_cut_at_4_kib():
    clock = Clock()
    clock.advance(1_800_000_000)
    events = MemoryStore(clock)
    signer = TokenSigner(b"s" * 32)
    site = makeSite(events, signer, None, clock)
    token = signer.unsubscribe("0123456789ABCDEF0123", 0, "app", "reader@example.org")
    chunk = b"%x\r\n%s\r\n" % (1024, b"a" * 1024)
    transport = rawRequest(
        site,
        f"POST /u/{token} HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        + chunk * 8,
    )
    assert transport.value().startswith(b"HTTP/1.1 413"), transport.value()
    assert b"larger than 4 KiB" in transport.value()
    assert transport.disconnecting
    assert [e for e in events.stored if e.type == "unsubscribe"] == []
