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

from .test_submission import connect

ALL = ("trackclicks", "trackopens", "preventscam", "inlinecss", "hostedimages", "trackbounces")
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0500f0004850180848a6a4b0000000049454e44ae426082"
)


def compose(
    headers: dict[str, str],
    sender="news@example.com",
    to="reader@example.org",
    subject="features",
) -> bytes:
    message = email.message.EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    for name, value in headers.items():
        message[name] = value
    message.set_content("Plain: https://shop.example.com/plain\n")
    message.add_alternative(
        "<html><head><style>p { color: #123456 }</style></head><body>"
        '<p><a href="https://shop.example.com/deal">deal</a> '
        '<a href="https://shop.example.com/visible">shop.example.com/visible</a>'
        '<img src="cid:logo@example.com"></p></body></html>',
        subtype="html",
    )
    message.get_payload()[1].add_related(PNG, "image", "png", cid="<logo@example.com>")
    return message.as_bytes(policy=email.policy.SMTP)


def html(data: bytes) -> str:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    return next(p for p in parsed.walk() if p.get_content_type() == "text/html").get_content()


EFFECTS = {
    "trackclicks": lambda r: (
        "/c/" in html(r.data) and "https://shop.example.com/deal" not in html(r.data)
    ),
    "trackopens": lambda r: re.search(r'/o/[A-Za-z0-9_-]+\.gif"', html(r.data)) is not None,
    "inlinecss": lambda r: 'style="color: #123456' in html(r.data),
    "hostedimages": lambda r: "/i/" in html(r.data) and b"Content-Type: image/png" not in r.data,
    "trackbounces": lambda r: r.mailFrom.endswith("@gw.test") and r.mailFrom.startswith("b"),
    # With clicks tracked: the link that shows its own address is left alone.
    "preventscam": lambda r: 'href="https://shop.example.com/visible"' in html(r.data),
}


def send(gateway, login, password, message, recipients=("reader@example.org",)):
    client = connect(gateway, implicit=False)
    client.login(login, password)
    client.sendmail("news@example.com", list(recipients), message)
    client.quit()


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
