"""
No open relay: on the submission listeners, nothing is accepted without
TLS and AUTH, whatever address trick the envelope uses. With AUTH, source
routes and bang paths are refused rather than interpreted.
"""

from __future__ import annotations

import pytest

from .harness import Harness

TRICKS = [
    "user%other.example@gw.test",
    "@a.example:user@b.example",
    "@a.example,@b.example:user@c.example",
    '"user@other.example"@gw.test',
    "other.example!user",
    "other.example!user@gw.test",
    "user@[127.0.0.1]",
    "postmaster",
    "user@gw.test",
]


@pytest.mark.parametrize("address", TRICKS)
def test_plaintext_session_refuses_every_trick(address):
    h = Harness()
    h.send("EHLO c.test\r\n")
    assert h.codes(f"MAIL FROM:<a@example.com>\r\nRCPT TO:<{address}>\r\nDATA\r\n") == [
        "530",
        "530",
        "530",
    ]
    assert h.queue.messages == []


@pytest.mark.parametrize("address", TRICKS)
def test_tls_without_auth_refuses_every_trick(address):
    h = Harness()
    h.secure()
    assert h.codes(f"MAIL FROM:<a@example.com>\r\nRCPT TO:<{address}>\r\nDATA\r\n") == [
        "530",
        "530",
        "530",
    ]
    assert h.queue.messages == []


@pytest.mark.parametrize(
    "address", ["@a.example:user@b.example", "other.example!user", "postmaster", "a@b@c.example"]
)
def test_authenticated_routes_are_refused_not_interpreted(address):
    h = Harness()
    h.login()
    h.send("MAIL FROM:<a@example.com>\r\n")
    assert h.send(f"RCPT TO:<{address}>\r\n")[0].startswith("501 5.1.3")
