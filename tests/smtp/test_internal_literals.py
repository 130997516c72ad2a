"""
F6: a login must not make the gateway deliver to an internal host by
naming its address (RCPT TO:<x@[127.0.0.1]>). Without a smarthost, RCPT
refuses address literals that are not public, unless the operator allows
their network (--delivery-allow-network).
"""

from __future__ import annotations

import ipaddress

import pytest

from smtpeter.delivery import deliveryPolicy

from .harness import Harness

INTERNAL = [
    "x@[127.0.0.1]",
    "x@[127.9.9.9]",
    "x@[IPv6:::1]",
    "x@[IPv6:0:0:0:0:0:0:0:1]",
    "x@[0.0.0.0]",
    "x@[IPv6:::]",
    "x@[169.254.169.254]",
    "x@[10.0.0.1]",
    "x@[172.16.0.1]",
    "x@[192.168.1.1]",
    "x@[100.64.0.1]",
    "x@[224.0.0.1]",
    "x@[255.255.255.255]",
    "x@[IPv6:::ffff:127.0.0.1]",
    "x@[IPv6:::ffff:169.254.169.254]",
    "x@[IPv6:fe80::1]",
    "x@[IPv6:fd00:ec2::254]",
    "x@[IPv6:64:ff9b::7f00:1]",
    "x@[IPv6:2002:7f00:1::]",
]


def rcpt(h: Harness, address: str) -> list[str]:
    h.send("MAIL FROM:<a@example.com>\r\n")
    return h.send(f"RCPT TO:<{address}>\r\n")


@pytest.mark.parametrize("address", INTERNAL)
def test_a_literal_that_is_not_public_is_refused_at_rcpt(address):
    h = Harness()
    h.login()
    literal = address.partition("@")[2]
    assert rcpt(h, address) == [
        f"550 5.7.1 {literal} is not a public address; this gateway delivers only to public hosts"
    ]
    assert h.codes("DATA\r\n") == ["554"]  # nothing was taken
    assert h.queue.messages == []


def test_the_refusal_ends_only_that_recipient():
    h = Harness()
    h.login()
    assert rcpt(h, "x@[127.0.0.1]")[0].startswith("550 5.7.1")
    assert h.send("RCPT TO:<b@example.org>\r\n") == ["250 2.1.5 Recipient ok"]
    assert h.send("DATA\r\n")[0].startswith("354")
    h.send("Subject: x\r\n\r\nx\r\n.\r\n")
    [(envelope, _, _)] = h.queue.messages
    assert [r.address for r in envelope.recipients] == ["b@example.org"]


@pytest.mark.parametrize("address", ["x@[93.184.215.14]", "x@[IPv6:2a00:1450:4001:80b::201a]"])
def test_a_public_literal_is_accepted(address):
    h = Harness()
    h.login()
    assert rcpt(h, address) == ["250 2.1.5 Recipient ok"]


def test_an_allowed_network_is_accepted_and_only_it():
    h = Harness(recipientLiterals=deliveryPolicy([ipaddress.ip_network("127.0.0.0/8")]))
    h.login()
    assert rcpt(h, "x@[127.0.0.1]") == ["250 2.1.5 Recipient ok"]
    assert h.send("RCPT TO:<x@[10.0.0.1]>\r\n")[0].startswith("550 5.7.1")
    assert h.send("RCPT TO:<x@[IPv6:::1]>\r\n")[0].startswith("550 5.7.1")


def test_with_a_smarthost_every_literal_goes_to_it():
    h = Harness(recipientLiterals=None)
    h.login()
    assert rcpt(h, "x@[127.0.0.1]") == ["250 2.1.5 Recipient ok"]


def test_an_ipv6_literal_that_is_no_address_is_a_syntax_error():
    h = Harness()
    h.login()
    [reply] = rcpt(h, "x@[IPv6:1:2:3]")
    assert reply.startswith("501 5.1.3 ") and "is not an IP address" in reply
