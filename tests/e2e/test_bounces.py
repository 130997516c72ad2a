"""
Bounce intake through the real gateway: a tracked message is delivered to a
test receiver, and a bounce is sent back to the VERP address it went out
with, on the --mx listener; the event is recorded and the bounce forwarded
(or not) as the original sender's DSN request says. Every other recipient
is refused, so the listener cannot relay.
"""

from __future__ import annotations

import json
import smtplib
import sqlite3
import time
from pathlib import Path

import pytest

from smtpeter.features import TokenSigner

from ..conftest import freePort
from .conftest import compose, connect, context

BOUNCES = Path(__file__).parents[1] / "fixtures" / "bounces"


@pytest.fixture
def mx(makeGateway, sink):
    port = freePort()
    gateway = makeGateway(
        sink, "--mx", f"tcp:{port}:interface=127.0.0.1", "--bounce-domain", "bounce.test"
    )
    gateway.mxPort = port
    gateway.password = gateway.createLogin("app", "trackbounces")
    return gateway


def sendTracked(gateway, sink, notify=None) -> str:
    """Send one message; the envelope sender it was delivered with."""
    client = connect(gateway, implicit=False)
    client.login("app", gateway.password)
    options = [f"NOTIFY={notify}"] if notify else []
    client.sendmail("news@example.com", ["reader@example.org"], compose({}), rcpt_options=options)
    client.quit()
    [received] = sink.wait(1)
    sink.messages.clear()
    assert received.mailFrom.endswith("@bounce.test")
    return received.mailFrom


def bounce(gateway, to: str, name: str, starttls: bool = False) -> tuple[int, bytes]:
    data = (BOUNCES / name).read_bytes().replace(b"{to}", to.encode())
    with smtplib.SMTP("127.0.0.1", gateway.mxPort, timeout=15) as client:
        client.ehlo("mx.example.org")
        if starttls:
            client.starttls(context=context())
            client.ehlo("mx.example.org")
        client.mail("")
        code, text = client.rcpt(to)
        if code != 250:
            return code, text
        return client.data(data.replace(b"\n", b"\r\n"))


def bounces(gateway) -> list[dict]:
    db = sqlite3.connect(gateway.data / "smtpeter.sqlite")
    rows = db.execute("SELECT qid, recipient, details FROM events WHERE type = 'bounce'")
    return [{"qid": q, "recipient": r, **json.loads(d)} for q, r, d in rows]


def test_a_bounce_is_recorded_and_forwarded_to_the_sender(mx, sink):
    verp = sendTracked(mx, sink)
    code, text = bounce(mx, verp, "postfix-hard.eml", starttls=True)
    assert code == 250, text
    [event] = bounces(mx)
    signer = TokenSigner((mx.data / "secret.key").read_bytes())
    assert event["qid"] == signer.readBounce(verp.partition("@")[0]).qid
    assert event["recipient"] == "reader@example.org"
    assert (event["class"], event["action"], event["status"]) == ("hard", "failed", "5.1.1")
    assert event["diagnostic"].startswith("550 5.1.1")
    assert event["forwarded"] is True
    assert "Status: 5.1.1" in event["mime"]
    [forwarded] = sink.wait(1)
    assert forwarded.mailFrom == "" and forwarded.recipients == ["news@example.com"]
    assert b"Undelivered Mail Returned to Sender" in forwarded.data


def test_notify_never_records_without_forwarding_but_auto_replies_go_through(mx, sink):
    verp = sendTracked(mx, sink, notify="NEVER")
    assert bounce(mx, verp, "postfix-hard.eml")[0] == 250
    assert bounce(mx, verp, "out-of-office.eml")[0] == 250
    hard, auto = bounces(mx)
    assert (hard["class"], hard["forwarded"]) == ("hard", False)
    assert "NOTIFY=NEVER" in hard["forward_reason"]
    assert (auto["class"], auto["forwarded"]) == ("auto-reply", True)
    [forwarded] = sink.wait(1)
    assert b"out of the office" in forwarded.data
    time.sleep(1)
    assert len(sink.messages) == 1  # the hard bounce was not forwarded


def test_exims_bounce_is_a_failure_not_an_auto_reply(mx, sink):
    verp = sendTracked(mx, sink, notify="NEVER")
    assert bounce(mx, verp, "exim-hard.eml")[0] == 250
    [event] = bounces(mx)
    assert (event["class"], event["reason"], event["status"]) == ("hard", "user unknown", "5.1.1")
    assert event["forwarded"] is False and "NOTIFY=NEVER" in event["forward_reason"]
    time.sleep(1)
    assert sink.messages == []
    [suppressed] = json.loads(mx.cli("suppression", "list", "--json").stdout)
    assert (suppressed["email"], suppressed["reason"]) == ("reader@example.org", "hard bounce")
    assert suppressed["messageid"] == event["qid"]


def test_a_complaint_suppresses_and_a_soft_bounce_does_not(mx, sink):
    verp = sendTracked(mx, sink, notify="NEVER")
    assert bounce(mx, verp, "gmail-spam.eml")[0] == 250  # soft: says nothing of the address
    assert json.loads(mx.cli("suppression", "list", "--json").stdout) == []
    assert bounce(mx, verp, "arf.eml")[0] == 250
    [suppressed] = json.loads(mx.cli("suppression", "list", "--json").stdout)
    assert (suppressed["email"], suppressed["reason"]) == ("reader@example.org", "complaint")


@pytest.mark.parametrize(
    "name, kind, reason",
    [
        ("exchange2003.eml", "hard", "user unknown"),
        ("gmail-delay.eml", "soft", "rate limited"),
        ("broken-rfc3464.eml", "hard", "host unknown"),
        ("gmail-spam.eml", "soft", "spam detected"),
        ("deliverable.eml", "success", "delivered"),
    ],
)
def test_bounce_shapes_get_their_class_and_reason(mx, sink, name, kind, reason):
    verp = sendTracked(mx, sink, notify="NEVER")
    assert bounce(mx, verp, name)[0] == 250
    [event] = bounces(mx)
    assert (event["class"], event["reason"]) == (kind, reason)
    mx.waitForLog(f"class={kind} reason={reason} ")


def test_real_bounces_newly_read_get_their_class_and_reason(mx, sink):
    """
    Real bounces (sisimai's corpus) that we read wrongly before issue 33: a
    5.1.8 sender refusal and a 5.0.0 "User unknown" in answer to DATA are
    soft, a 5.5.0 whose notice says "unknown user" is hard.
    """
    verp = sendTracked(mx, sink, notify="NEVER")
    shapes = [
        ("sisimai/lhost-postfix-10.eml", "soft", "sender rejected", "5.1.8"),
        ("sisimai/lhost-sendmail-27.eml", "soft", "filtered", "5.0.0"),
        ("sisimai/rfc3464-06.eml", "hard", "user unknown", "5.5.0"),
    ]
    for name, _, _, _ in shapes:
        assert bounce(mx, verp, name)[0] == 250, name
    got = [(e["class"], e["reason"], e["status"]) for e in bounces(mx)]
    assert got == [(kind, reason, status) for _, kind, reason, status in shapes]
    # Only the hard one puts the address on the suppression list.
    [suppressed] = json.loads(mx.cli("suppression", "list", "--json").stdout)
    assert (suppressed["email"], suppressed["reason"]) == ("reader@example.org", "hard bounce")


def test_mx_refuses_every_other_recipient_and_never_relays(mx, sink):
    verp = sendTracked(mx, sink)
    local, _, _ = verp.partition("@")
    altered = local[:-1] + ("a" if local[-1] != "a" else "b")
    with smtplib.SMTP("127.0.0.1", mx.mxPort, timeout=15) as client:
        code, features = client.ehlo("mx.example.org")
        assert b"STARTTLS" in features and b"AUTH" not in features
        assert client.docmd("AUTH", "PLAIN AGFwcABwYXNz")[0] == 503
        client.mail("spammer@example.net")
        for to in (
            "reader@example.org",  # relaying
            "postmaster@bounce.test",
            f"{altered}@bounce.test",  # forged
            f"{local}@other.test",  # right token, wrong domain
            f"{local[:20]}@bounce.test",  # truncated
        ):
            code, text = client.rcpt(to)
            assert (code, text[:5]) == (550, b"5.7.1"), to
        assert client.docmd("DATA")[0] == 554
    assert bounces(mx) == []
    time.sleep(0.5)
    assert sink.messages == []


def test_a_busy_mta_delivers_300_bounces_over_one_connection(mx, sink):
    """
    As an MTA draining its queue does: RSET, MAIL, RCPT, DATA for each
    bounce, all on one connection. Every one is taken; none ends in 421
    (the RSETs used to add up to "Too many errors" after about 120).
    """
    verp = sendTracked(mx, sink, notify="NEVER")
    shapes = sorted(BOUNCES.glob("*.eml"))
    with smtplib.SMTP("127.0.0.1", mx.mxPort, timeout=15) as client:
        client.ehlo("mx.example.org")
        for n in range(300):
            data = shapes[n % len(shapes)].read_bytes().replace(b"{to}", verp.encode())
            assert client.rset()[0] == 250, n
            assert client.mail("")[0] == 250, n
            assert client.rcpt(verp)[0] == 250, n
            code, text = client.data(data.replace(b"\n", b"\r\n"))
            assert code == 250, (n, shapes[n % len(shapes)].name, text)
        assert client.noop()[0] == 250
    assert len(bounces(mx)) == 300
