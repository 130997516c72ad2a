"""
Features through the real gateway: switched on by the login and off by a
header, off by the login and on by a header, headers never delivered;
DKIM verified with dkimpy against the record 'smtpeter domain add' printed.
"""

from __future__ import annotations

import email
import email.policy
import json
import re

import dkim

from smtpeter.features import TokenSigner

from .conftest import EFFECTS, compose, html, send

ALL = ("trackclicks", "trackopens", "preventscam", "inlinecss", "hostedimages", "trackbounces")


def test_login_on_header_off_and_login_off_header_on(makeGateway, sink):
    gateway = makeGateway(sink)
    on = gateway.createLogin("on", *ALL)
    off = gateway.createLogin("off")
    cases = []
    for feature in ALL:
        header = "x-smtpeter-images" if feature == "hostedimages" else f"x-smtpeter-{feature}"
        no, yes = ("inline", "hosted") if feature == "hostedimages" else ("false", "true")
        send(gateway, "on", on, compose({header: no}, subject=f"{feature} off"))
        extra = {"x-smtpeter-trackclicks": "true"} if feature == "preventscam" else {}
        send(gateway, "off", off, compose({header: yes, **extra}, subject=f"{feature} on"))
        cases.append(feature)
    received = sink.wait(2 * len(cases))
    # Two workers deliver side by side: find each case by its subject, not its turn.
    bySubject = {email.message_from_bytes(r.data)["Subject"]: r for r in received}
    for feature in cases:
        switchedOff, switchedOn = bySubject[f"{feature} off"], bySubject[f"{feature} on"]
        if feature == "preventscam":
            # Switched off while clicks are tracked: that link is tracked too.
            assert not EFFECTS[feature](switchedOff), feature
        else:
            assert not EFFECTS[feature](switchedOff), f"{feature} acted though switched off"
        assert EFFECTS[feature](switchedOn), f"{feature} did not act though switched on"
    for r in received:
        assert b"x-smtpeter" not in r.data.lower()


def test_each_recipient_has_own_tokens_and_bounce_address(makeGateway, sink):
    gateway = makeGateway(
        sink, "--public-url", "https://t.example.net/", "--bounce-domain", "bounce.example.net"
    )
    password = gateway.createLogin("app", "trackclicks", "trackopens", "trackbounces")
    recipients = ("one@example.org", "two@example.org", "three@example.org")
    send(gateway, "app", password, compose({}), recipients)
    received = sink.wait(3)
    signer = TokenSigner((gateway.data / "secret.key").read_bytes())
    seen = {}
    for r in received:
        [recipient] = r.recipients
        local, _, domain = r.mailFrom.partition("@")
        assert domain == "bounce.example.net"
        bounce = signer.readBounce(local)
        clicks = re.findall(r"https://t\.example\.net/c/([A-Za-z0-9_-]+)", html(r.data))
        assert clicks and all(signer.readClick(t).recipient == bounce.recipient for t in clicks)
        seen[recipient] = bounce.recipient
    assert seen == {address: i for i, address in enumerate(recipients)}
    gateway.waitForLog("delivery <three@example.org>")


def test_login_click_domain(makeGateway, sink):
    gateway = makeGateway(sink)
    password = gateway.createLogin("customer", "trackclicks")
    gateway.cli("login", "update", "customer", "--public-url", "https://links.customer.example")
    send(gateway, "customer", password, compose({}))
    [r] = sink.wait(1)
    assert re.search(r'href="https://links\.customer\.example/c/[A-Za-z0-9_-]+/shop', html(r.data))


def test_dkim_signed_and_verifiable(makeGateway, sink):
    gateway = makeGateway(sink)
    record = json.loads(gateway.cli("domain", "add", "example.com", "--json").stdout)
    assert set(record) == {"domain", "selector", "name", "txt"}
    assert record["name"] == f"{record['selector']}._domainkey.example.com"
    password = gateway.createLogin("app", "trackclicks", "inlinecss")
    send(gateway, "app", password, compose({}))
    send(gateway, "app", password, compose({}, sender="someone@other.example"))
    # Two workers may deliver them in either order: tell them apart by From.
    bySender = {email.message_from_bytes(r.data)["From"]: r for r in sink.wait(2)}
    signed, unsigned = bySender["news@example.com"], bySender["someone@other.example"]

    def dns(name, timeout=5):
        return record["txt"].encode() if name == f"{record['name']}.".encode() else None

    assert dkim.verify(signed.data, dnsfunc=dns)
    assert not unsigned.data.startswith(b"DKIM-Signature")
    tampered = signed.data.replace(b"features", b"Features", 1)
    assert not dkim.verify(tampered, dnsfunc=dns)
