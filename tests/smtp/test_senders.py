"""A login's sender domains: the envelope sender at MAIL, the From: addresses after DATA."""

from __future__ import annotations

import pytest
from attrs import evolve

from .harness import Harness


def session(*domains: str) -> Harness:
    h = Harness()
    record, password = h.logins.logins["alice"]
    h.logins.logins["alice"] = (evolve(record, senderDomains=domains), password)
    h.login()
    return h


@pytest.mark.parametrize(
    "sender", ["a@example.com", "a@mail.example.com", "a@EXAMPLE.COM", "a@shop.test"]
)
def test_senders_in_the_domains_or_under_them_are_taken(sender):
    h = session("example.com", "shop.test")
    assert h.send(f"MAIL FROM:<{sender}>\r\n") == ["250 2.1.0 Sender ok"]


@pytest.mark.parametrize(
    "sender", ["a@example.com.evil.test", "a@evil-example.com", "a@example.org", "a@com"]
)
def test_an_envelope_sender_outside_them_gets_550_naming_it(sender):
    h = session("example.com")
    assert h.send(f"MAIL FROM:<{sender}>\r\n") == [
        f"550 5.7.1 Sender address <{sender}> is not in this login's sender domains"
    ]
    assert not h.queue.messages


@pytest.mark.parametrize(
    "header, refused",
    [
        ("From: Shop <news@example.com.evil.test>", "news@example.com.evil.test"),
        ("From: news@evil-example.com", "news@evil-example.com"),
        ('From: "news@example.com" <x@evil.test>', "x@evil.test"),
        ("From: a@example.com, b@evil.test", "b@evil.test"),
        ("From: a@example.com\r\nFrom: b@evil.test", "b@evil.test"),
        ("From: Shop\r\n <news@evil.test>", "news@evil.test"),
    ],
)
def test_a_from_address_outside_them_gets_550_after_data(header, refused):
    h = session("example.com")
    h.transaction(sender="bounces@example.com")
    reply = h.send(f"{header}\r\nSubject: x\r\n\r\nbody\r\n.\r\n")
    assert reply == [f"550 5.7.1 From: address <{refused}> is not in this login's sender domains"]
    assert not h.queue.messages


def test_a_from_with_no_address_is_refused():
    h = session("example.com")
    h.transaction(sender="bounces@example.com")
    reply = h.send("From: nobody\r\n\r\nbody\r\n.\r\n")
    assert reply[0].startswith("550 5.7.1 From: address <nobody> is not in")
    h.transaction(sender="bounces@example.com")
    reply = h.send("From: \r\n\r\nbody\r\n.\r\n")
    assert reply == ["550 5.7.1 From: '' holds no address this login may send from"]


def test_a_from_in_a_subdomain_is_taken():
    h = session("example.com")
    h.transaction(sender="bounces@example.com")
    reply = h.send("From: =?utf-8?q?Sh=C3=B6p?= <news@mail.example.com>\r\n\r\nbody\r\n.\r\n")
    assert reply[0].startswith("250")


def test_without_sender_domains_anyone_may_send_as_today():
    h = Harness()
    h.login()
    h.transaction(sender="a@anything.test")
    assert h.send("From: b@elsewhere.test\r\n\r\nbody\r\n.\r\n")[0].startswith("250")


def test_the_null_sender_is_judged_by_its_from():
    h = session("example.com")
    assert h.send("MAIL FROM:<>\r\n") == ["250 2.1.0 Sender ok"]
    h.send("RCPT TO:<b@example.org>\r\n")
    h.send("DATA\r\n")
    assert h.send("From: x@evil.test\r\n\r\nbody\r\n.\r\n")[0].startswith("550 5.7.1")
