"""The outbound client: dot-stuffing, STARTTLS response injection, transactions."""

from __future__ import annotations

import pytest
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.error import ConnectionLost
from twisted.internet.task import Clock

from smtpeter.delivery._client import ClientError, SMTPClientProtocol, dotStuff
from smtpeter.delivery._session import Abandoned, HopSession
from smtpeter.queue import Envelope, Recipient
from smtpeter.testing import TLSStringTransport, result


def unstuff(wire: bytes) -> bytes:
    """What a receiving server reads back: up to the first lone dot, dots undone."""
    lines = wire.split(b"\r\n")
    out = []
    for line in lines:
        if line == b".":
            return b"".join(x + b"\r\n" for x in out)
        out.append(line[1:] if line.startswith(b".") else line)
    raise AssertionError("no terminator")


@pytest.mark.parametrize("offset", [0, 16383, 16384, 16385])
def test_dot_lines_at_chunk_boundaries_are_stuffed(offset):
    filler = b"x" * (offset - 2) + b"\r\n" if offset else b""
    content = filler + b".\r\nQUIT\r\n..\r\n.x\r\nend\r\n"
    assert content.index(b".\r\nQUIT") == offset
    wire = b"".join(dotStuff(content))
    assert unstuff(wire) == content
    assert wire.count(b"\r\n.\r\n") == 1  # only the terminator
    assert not wire.startswith(b".\r\n")
    assert wire.endswith(b"\r\n.\r\n")


def test_dot_stuffing_keeps_crlf_as_is_and_adds_final_crlf():
    assert b"".join(dotStuff(b"a\r\nb")) == b"a\r\nb\r\n.\r\n"
    assert b"\r\r\n" not in b"".join(dotStuff(b"a\r\nb\r\n"))
    content = b"no line starts with a dot\r\n" * 10
    assert dotStuff(content)[0] is content  # sent as it is, not copied


def connected():
    clock = Clock()
    protocol = SMTPClientProtocol(clock)
    transport = TLSStringTransport()
    protocol.makeConnection(transport)
    return protocol, transport, clock


def test_lines_after_starttls_220_are_discarded():
    protocol, transport, clock = connected()
    protocol.dataReceived(b"220 hi\r\n")
    d = ensureDeferred(protocol.startTLS(object()))
    protocol.dataReceived(b"220 go ahead\r\n250-injected\r\n250 AUTH PLAIN\r\n")
    assert transport.tlsStarted
    assert d.result.code == 220
    ehlo = ensureDeferred(protocol.ehlo("gw.test"))
    assert not ehlo.called  # the injected 250 was not taken as the EHLO answer
    protocol.dataReceived(b"250-mx.test\r\n250 PIPELINING\r\n")
    assert ehlo.called
    assert protocol.extensions == {"PIPELINING": ""}


def test_reply_timeout_fails_the_wait():
    protocol, transport, clock = connected()
    protocol.dataReceived(b"220 hi\r\n")
    d = ensureDeferred(protocol.command("NOOP"))
    clock.advance(301)
    with pytest.raises(ClientError, match="no reply"):
        result(d)
    assert transport.disconnecting


def test_a_reply_that_comes_restarts_the_wait_for_the_next():
    protocol, transport, clock = connected()
    protocol.dataReceived(b"220 hi\r\n")
    first, second = protocol.expect(), protocol.expect()
    clock.advance(200)
    protocol.dataReceived(b"250 one\r\n")
    clock.advance(200)  # 400 s since the wait began, 200 since the last reply
    assert first.result.code == 250 and not second.called
    assert not transport.disconnecting
    clock.advance(101)
    with pytest.raises(ClientError, match="no reply"):
        result(second)
    assert transport.disconnecting


def test_one_timer_per_connection_and_none_fires_while_idle():
    protocol, transport, clock = connected()
    protocol.dataReceived(b"220 hi\r\n")
    for _ in range(5):
        d = ensureDeferred(protocol.command("NOOP"))
        protocol.dataReceived(b"250 ok\r\n")
        assert d.result.code == 250
    assert len(clock.getDelayedCalls()) == 1
    clock.advance(3600)  # parked, with nothing awaited: the hop owes no reply
    assert not transport.disconnecting
    d = ensureDeferred(protocol.command("NOOP"))
    clock.advance(299)
    protocol.dataReceived(b"250 ok\r\n")
    assert d.result.code == 250 and not transport.disconnecting


def test_replies_to_a_pipelined_group_come_together():
    protocol, transport, clock = connected()
    protocol.dataReceived(b"220 hi\r\n")
    group = protocol.expectReplies(3)
    protocol.dataReceived(b"250 a\r\n250 b\r\n")
    assert not group.called
    protocol.dataReceived(b"354 c\r\n250 early\r\n")
    assert [r.code for r in group.result] == [250, 250, 354]
    assert protocol.expect().result.lines == ("early",)
    lost = protocol.expectReplies(2)
    protocol.connectionLost()
    with pytest.raises(ConnectionLost):
        result(lost)
    assert not clock.getDelayedCalls()


def test_pipelined_transaction_outcomes_per_recipient():
    protocol, transport, clock = connected()
    protocol.dataReceived(b"220 hi\r\n")
    protocol.extensions = {"PIPELINING": "", "SIZE": "0", "DSN": ""}
    session = HopSession(protocol, "mx.test")
    envelope = Envelope("a@example.com", (), ret="HDRS", envid="e 1")
    recipients = [
        Recipient("ok@example.org", ("SUCCESS",), "rfc822;o@example.org"),
        Recipient("no@example.org"),
    ]
    transport.clear()
    d = ensureDeferred(session.transfer(envelope, recipients, b"Subject: x\r\n\r\n.dot\r\n"))
    sent = transport.value().decode()
    assert sent == (
        "MAIL FROM:<a@example.com> SIZE=20 RET=HDRS ENVID=e+201\r\n"
        "RCPT TO:<ok@example.org> NOTIFY=SUCCESS ORCPT=rfc822;o@example.org\r\n"
        "RCPT TO:<no@example.org>\r\n"
        "DATA\r\n"
    )
    protocol.dataReceived(b"250 ok\r\n250 ok\r\n550 5.1.1 unknown\r\n354 go\r\n")
    assert transport.value().endswith(b"Subject: x\r\n\r\n..dot\r\n.\r\n")
    protocol.dataReceived(b"250 2.0.0 queued\r\n")
    ok, no = d.result
    assert (ok.status, ok.code, ok.enhanced, ok.relayed) == ("delivered", 250, "2.0.0", True)
    assert (no.status, no.code, no.enhanced, no.state) == ("permanent", 550, "5.1.1", "RCPT")


def test_an_orcpt_whose_type_is_no_word_is_not_written():
    # (refused where it is given; a queue written before that could hold one)
    protocol, transport, clock = connected()
    protocol.dataReceived(b"220 hi\r\n")
    protocol.extensions = {"PIPELINING": "", "DSN": ""}
    session = HopSession(protocol, "mx.test")
    recipient = Recipient("ok@example.org", (), "rfc822\r\nRSET;o@example.org")
    ensureDeferred(session.transfer(Envelope("a@example.com", ()), [recipient], b"x\r\n"))
    assert "RCPT TO:<ok@example.org>\r\nDATA\r\n" in transport.value().decode()
    assert "RSET" not in transport.value().decode()


def test_all_recipients_refused_resets_instead_of_sending_data():
    protocol, transport, clock = connected()
    protocol.dataReceived(b"220 hi\r\n")
    protocol.extensions = {"PIPELINING": ""}
    session = HopSession(protocol, "mx.test")
    d = ensureDeferred(
        session.transfer(Envelope("a@x.test", ()), [Recipient("b@y.test")], b"x\r\n")
    )
    protocol.dataReceived(b"250 ok\r\n451 4.7.1 later\r\n554 5.5.1 no valid recipients\r\n")
    assert transport.value().endswith(b"RSET\r\n")
    protocol.dataReceived(b"250 ok\r\n")
    [outcome] = d.result
    assert (outcome.status, outcome.code) == ("transient", 451)
    assert b"x\r\n.\r\n" not in transport.value()


def transaction(beforeDot):
    protocol, transport, clock = connected()
    protocol.dataReceived(b"220 hi\r\n")
    protocol.extensions = {"PIPELINING": ""}
    session = HopSession(protocol, "mx.test")
    envelope = Envelope("a@example.com", ())
    d = ensureDeferred(
        session.transfer(envelope, [Recipient("r@example.org")], b"body\r\n", beforeDot)
    )
    protocol.dataReceived(b"250 ok\r\n250 ok\r\n354 go\r\n")
    return d, transport, protocol


def test_the_final_dot_waits_for_the_check_and_follows_a_yes():
    asked = Deferred()
    d, transport, protocol = transaction(lambda: asked)
    assert transport.value().endswith(b"body\r\n")  # all but the dot
    asked.callback(True)
    assert transport.value().endswith(b"body\r\n.\r\n")
    protocol.dataReceived(b"250 2.0.0 queued\r\n")
    assert d.result[0].status == "delivered"


@pytest.mark.parametrize("answer", [False, RuntimeError("database down")])
def test_no_final_dot_when_the_check_says_no_or_fails(answer):
    asked = Deferred()
    d, transport, _ = transaction(lambda: asked)
    if isinstance(answer, Exception):
        asked.errback(answer)
    else:
        asked.callback(answer)
    assert not transport.value().endswith(b".\r\n")
    with pytest.raises(Abandoned):
        result(d)
