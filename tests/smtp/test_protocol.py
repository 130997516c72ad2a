"""The submission session, driven byte by byte."""

from __future__ import annotations

import base64
import re
from datetime import timedelta

import pytest

from smtpeter.smtp import _replies as R
from smtpeter.smtp._protocol import MAX_HELD_REPLIES

from .harness import Harness, plain


def test_greeting():
    h = Harness()
    assert h.lines() == ["220 gw.test ESMTP smtpeter"]


def test_ehlo_before_tls_offers_starttls_not_auth():
    h = Harness()
    lines = h.send("EHLO client.test\r\n")
    assert "250-STARTTLS" in lines or "250 STARTTLS" in lines
    assert not any("AUTH" in line for line in lines)
    for keyword in ("PIPELINING", "8BITMIME", "SIZE 52428800", "ENHANCEDSTATUSCODES", "DSN"):
        assert any(line[4:] == keyword for line in lines), keyword


def test_ehlo_after_tls_offers_auth_not_starttls():
    h = Harness()
    h.secure()
    lines = h.send("EHLO client.test\r\n")
    assert lines[-1] == "250 AUTH PLAIN LOGIN"
    assert not any("STARTTLS" in line for line in lines)


def test_implicit_tls_starts_before_the_greeting():
    h = Harness(implicitTLS=True)
    assert h.transport.tlsStarted
    assert h.transport.writtenInClear == b""
    assert h.transport.value().startswith(b"220 ")  # written after, through TLS


def test_implicit_tls_offers_auth_and_refuses_starttls():
    h = Harness(implicitTLS=True)
    assert h.send("EHLO c.test\r\n")[-1] == "250 AUTH PLAIN LOGIN"
    assert h.codes("STARTTLS\r\n") == ["503"]


def test_auth_before_tls_is_refused_538():
    h = Harness()
    h.send("EHLO c.test\r\n")
    assert h.send(f"AUTH PLAIN {plain('alice', Harness.PASSWORD)}\r\n") == [
        "538 5.7.11 Encryption required for requested authentication mechanism"
    ]


def test_mail_before_tls_is_refused_530_starttls():
    h = Harness()
    h.send("EHLO c.test\r\n")
    assert h.send("MAIL FROM:<a@example.com>\r\n") == [
        "530 5.7.0 Must issue a STARTTLS command first"
    ]


def test_mail_after_tls_before_auth_is_refused_530_auth():
    h = Harness()
    h.secure()
    assert h.send("MAIL FROM:<a@example.com>\r\n") == ["530 5.7.0 Authentication required"]
    assert h.send("RCPT TO:<b@example.org>\r\n") == ["530 5.7.0 Authentication required"]
    assert h.send("DATA\r\n") == ["530 5.7.0 Authentication required"]


def test_starttls_drops_pipelined_commands_and_resets_session():
    h = Harness()
    h.send("EHLO c.test\r\n")
    lines = h.send("STARTTLS\r\nMAIL FROM:<x@example.com>\r\nRCPT TO:<y@example.org>\r\n")
    assert lines == ["220 2.0.0 Ready to start TLS"]
    assert h.transport.tlsStarted
    # The session restarted: a new EHLO is needed before anything else.
    assert h.send("MAIL FROM:<x@example.com>\r\n")[0].startswith("503 5.5.1")
    # A second STARTTLS is refused.
    h.send("EHLO c.test\r\n")
    assert h.codes("STARTTLS\r\n") == ["503"]


def test_replies_to_a_pipelined_group_go_out_in_one_write():
    """RFC 2920: one TLS record and one send for MAIL, RCPT and DATA, not three."""
    h = Harness()
    h.login()
    h.transport.writes.clear()
    lines = h.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n")
    assert [line[:3] for line in lines] == ["250", "250", "354"]
    assert len(h.transport.writes) == 1


def test_the_starttls_reply_goes_out_before_tls_starts():
    h = Harness()
    h.send("EHLO c.test\r\nSTARTTLS\r\n")
    assert h.transport.tlsStarted
    assert h.transport.writtenInClear.endswith(b"220 2.0.0 Ready to start TLS\r\n")


def test_a_long_pipelined_group_is_written_as_it_goes():
    """Held replies are bounded: a client that reads none still pauses the session."""
    h = Harness()
    h.transport.writes.clear()
    lines = h.send("EHLO c.test\r\n" * 200)
    assert sum(line.startswith("250 ") for line in lines) == 200
    assert len(h.transport.writes) == -(-200 // MAX_HELD_REPLIES)


def test_an_auth_challenge_keeps_its_place_among_held_replies():
    h = Harness()
    h.secure()
    assert h.send("NOOP\r\nAUTH LOGIN\r\n") == ["250 2.0.0 Ok", "334 VXNlcm5hbWU6"]


def test_starttls_drops_partial_line():
    h = Harness()
    h.send("EHLO c.test\r\n")
    h.send("STARTTLS\r\nNOO")
    assert h.send("P\r\n") == ["500 5.5.1 Command unrecognized"]


def test_auth_plain_success_and_wrong_password():
    h = Harness()
    h.secure()
    assert h.codes(f"AUTH PLAIN {plain('alice', 'wrong')}\r\n") == []  # delayed
    h.clock.advance(2)
    assert h.lines() == ["535 5.7.8 Authentication credentials invalid"]
    assert h.codes(f"AUTH PLAIN {plain('alice', Harness.PASSWORD)}\r\n") == ["235"]
    assert h.codes(f"AUTH PLAIN {plain('alice', Harness.PASSWORD)}\r\n") == ["503"]


def test_auth_plain_with_challenge():
    h = Harness()
    h.secure()
    assert h.send("AUTH PLAIN\r\n") == ["334 "]
    assert h.codes(plain("alice", Harness.PASSWORD) + "\r\n") == ["235"]


def test_auth_login_with_and_without_initial_response():
    for initial in ("", " " + base64.b64encode(b"alice").decode()):
        h = Harness()
        h.secure()
        if not initial:
            assert h.send("AUTH LOGIN\r\n") == ["334 VXNlcm5hbWU6"]
            assert h.send(base64.b64encode(b"alice").decode() + "\r\n") == ["334 UGFzc3dvcmQ6"]
        else:
            assert h.send(f"AUTH LOGIN{initial}\r\n") == ["334 UGFzc3dvcmQ6"]
        assert h.codes(base64.b64encode(Harness.PASSWORD.encode()).decode() + "\r\n") == ["235"]


def test_disabled_login_is_refused_535():
    h = Harness()
    h.secure()
    h.send(f"AUTH PLAIN {plain('mallory', 'x')}\r\n")
    h.clock.advance(2)
    assert h.lines() == ["535 5.7.8 Authentication credentials invalid"]


def test_malformed_auth_gets_replies_not_crashes():
    h = Harness()
    h.secure()
    cases = {
        "AUTH\r\n": "501 5.5.2",
        "AUTH PLAIN !!!notbase64\r\n": "501 5.5.2",
        "AUTH PLAIN " + base64.b64encode(b"alice\0pw").decode() + "\r\n": "501 5.5.2",
        "AUTH CRAM-MD5\r\n": "504 5.5.4",
        "AUTH \xe9\xe9\r\n": "501 5.5.2",
        "\xc3\xa9UTH PLAIN\r\n": "500 5.5.1",
        f"AUTH PLAIN {plain('alice', Harness.PASSWORD, authzid='bob')}\r\n": "535 5.7.8",
    }
    for command, expected in cases.items():
        lines = h.send(command.encode("utf-8"))
        assert lines and lines[-1].startswith(expected), (command, lines)
    assert not h.transport.disconnecting
    assert h.codes(f"AUTH PLAIN {plain('alice', Harness.PASSWORD)}\r\n") == ["235"]


def test_auth_cancel_with_star():
    h = Harness()
    h.secure()
    h.send("AUTH LOGIN\r\n")
    assert h.send("*\r\n") == ["501 5.7.0 Authentication cancelled"]


def test_auth_line_too_long():
    h = Harness()
    h.secure()
    h.send("AUTH PLAIN\r\n")
    assert h.send(b"A" * 13000 + b"\r\n") == ["500 5.5.6 Authentication exchange line is too long"]
    assert h.codes("NOOP\r\n") == ["250"]


def test_auth_in_transaction_is_refused():
    h = Harness()
    h.login()
    h.send("MAIL FROM:<a@example.com>\r\n")
    # A second login attempt inside a transaction: 503 (already authenticated).
    assert h.codes(f"AUTH PLAIN {plain('alice', Harness.PASSWORD)}\r\n") == ["503"]


def test_pipelined_commands_wait_for_auth():
    h = Harness()
    h.secure()
    # A wrong password, answered only after its delay; the MAIL behind it
    # must not be answered first, and must see the failed AUTH.
    lines = h.send(f"AUTH PLAIN {plain('alice', 'bad')}\r\nMAIL FROM:<a@example.com>\r\n")
    assert lines == []
    h.clock.advance(2)
    assert [line[:3] for line in h.lines()] == ["535", "530"]


def test_throttle_bans_after_five_failures():
    h = Harness()
    h.secure()
    for delay in (2, 4, 8, 15, 15):
        h.send(f"AUTH PLAIN {plain('alice', 'bad')}\r\n")
        h.clock.advance(delay)
        assert h.lines()[-1].startswith("535")
    assert h.send(f"AUTH PLAIN {plain('alice', Harness.PASSWORD)}\r\n") == [
        "454 4.7.0 Too many failed authentication attempts from your address, try again later"
    ]
    # The right password refused is no use of the login.
    assert h.logins.logins["alice"][0].lastUsed is None
    for _ in range(4):  # the ban lasts 10 minutes; keep the session from idling out
        h.clock.advance(151)
        h.send("NOOP\r\n")
    assert h.codes(f"AUTH PLAIN {plain('alice', Harness.PASSWORD)}\r\n") == ["235"]
    assert h.logins.logins["alice"][0].lastUsed == h.clock.seconds()


def test_full_transaction_strips_headers_and_reads_options():
    h = Harness(features=("trackclicks", "inlinecss"))
    h.login()
    h.transaction()
    body = (
        "Message-ID: <m1@client.test>\r\nDate: Tue, 24 Nov 2026 02:00:00 +0100\r\n"
        "Subject: hi\r\nX-Smtpeter-TrackClicks: false\r\nx-smtpeter-trackopens: yes\r\n"
        "X-SMTPETER-TAGS: news, weekly , news\r\nx-smtpeter-images: hosted\r\n"
        "\r\n..dot\r\nbody\r\n.\r\n"
    )
    assert h.send(body) == ["250 2.0.0 Ok: queued as Q1"]
    envelope, options, content = h.queue.messages[0]
    assert options.features == {"inlinecss", "trackopens", "hostedimages"}
    assert options.tags == ("news", "weekly")
    assert options.login == "alice" and options.messageId == "<m1@client.test>"
    assert content.startswith(b"Received: from client.test ([192.0.2.7])\r\n")
    assert content.endswith(b"Subject: hi\r\n\r\n.dot\r\nbody\r\n")
    assert b"smtpeter-t" not in content.lower().split(b"\r\n\r\n")[0]


def test_a_missing_message_id_and_date_are_added():
    h = Harness()
    h.login()
    h.transaction()
    assert h.send("Subject: hi\r\n\r\nbody\r\n.\r\n")[0][:3] == "250"
    _, options, content = h.queue.messages[0]
    header = content.split(b"\r\n\r\n")[0].decode()
    assert header.endswith(
        f"Subject: hi\r\nMessage-ID: {options.messageId}\r\nDate: Thu, 01 Jan 1970 00:00:00 +0000"
    )
    assert re.fullmatch(r"<0\.[0-9a-f]{16}@gw\.test>", options.messageId)  # the clock says 0


def test_bad_option_value_is_refused_clearly():
    h = Harness()
    h.login()
    h.transaction()
    lines = h.send("Subject: x\r\nX-Smtpeter-TrackClicks: maybe\r\n\r\nbody\r\n.\r\n")
    assert lines[0].startswith("550 5.6.0") and "true or false" in lines[0]
    assert not h.queue.messages


def test_images_default_is_inline():
    h = Harness(features=("hostedimages",))
    h.login()
    h.transaction()
    assert h.send("Subject: x\r\nX-Smtpeter-Images: default\r\n\r\nbody\r\n.\r\n")[0][:3] == "250"
    assert "hostedimages" not in h.queue.messages[0][1].features


@pytest.mark.parametrize("tags", ["spring sale", "a;b", "ok, tab\there", "x" * 101])
def test_tags_with_white_space_or_semicolons_are_refused(tags):
    h = Harness()
    h.login()
    h.transaction()
    lines = h.send(f"Subject: x\r\nX-Smtpeter-Tags: {tags}\r\n\r\nbody\r\n.\r\n")
    assert lines[0].startswith("550 5.6.0") and "without white space, ';' or ','" in lines[0]
    assert not h.queue.messages


def test_malformed_header_is_refused():
    h = Harness()
    h.login()
    h.transaction()
    lines = h.send("this is not a header\r\nSubject: x\r\n\r\nbody\r\n.\r\n")
    assert lines[0].startswith("550 5.6.0")


def test_dsn_parameters_are_kept():
    h = Harness()
    h.login()
    assert h.codes(
        "MAIL FROM:<a@example.com> RET=HDRS ENVID=abc+2Bdef SIZE=100 BODY=8BITMIME\r\n"
    ) == ["250"]
    assert h.codes(
        "RCPT TO:<b@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b+40example.org\r\n"
    ) == ["250"]
    assert h.codes("RCPT TO:<c@example.org> NOTIFY=NEVER\r\n") == ["250"]
    h.send("DATA\r\n")
    h.send("Subject: x\r\n\r\nhi\r\n.\r\n")
    envelope = h.queue.messages[0][0]
    assert (envelope.ret, envelope.envid, envelope.body) == ("HDRS", "abc+def", "8BITMIME")
    assert envelope.recipients[0].notify == ("SUCCESS", "FAILURE")
    assert envelope.recipients[0].orcpt == "rfc822;b@example.org"
    assert envelope.recipients[1].notify == ("NEVER",)


def test_null_sender_is_accepted():
    h = Harness()
    h.login()
    assert h.codes("MAIL FROM:<>\r\n") == ["250"]


def test_parameter_errors():
    h = Harness()
    h.login()
    assert h.send("MAIL FROM:<a@example.com> FOO=bar\r\n") == [
        "555 5.5.4 Unsupported parameter: FOO"
    ]
    assert h.codes("MAIL FROM:<a@example.com> RET=ALL\r\n") == ["501"]
    assert h.codes("MAIL FROM:<a@example.com> SIZE=99999999999\r\n") == ["552"]
    assert h.codes("MAIL FROM:<a@example.com>\r\n") == ["250"]
    assert h.codes("RCPT TO:<b@example.org> NOTIFY=NEVER,SUCCESS\r\n") == ["501"]
    assert h.codes("RCPT TO:<b@example.org> XYZ\r\n") == ["555"]
    # An ORCPT's address type goes into the next hop's RCPT as it is: a word.
    for bad in ("rfc822:x;b+40example.org", ";b+40example.org", "rfc822+0D;b"):
        assert h.codes(f"RCPT TO:<b@example.org> ORCPT={bad}\r\n") == ["501"], bad


def test_too_many_recipients():
    h = Harness()
    h.login()
    h.send("MAIL FROM:<a@example.com>\r\n")
    codes = h.codes("".join(f"RCPT TO:<r{i}@example.org>\r\n" for i in range(101)))
    assert codes == ["250"] * 100 + ["452"]
    assert "4.5.3" in h.lines()[-1]


def test_message_over_max_size_is_refused_after_the_dot():
    h = Harness(maxSize=1000)
    h.login()
    h.transaction()
    lines = h.send("Subject: x\r\n\r\n" + ("y" * 80 + "\r\n") * 20 + ".\r\n")
    assert lines == ["552 5.3.4 Message size exceeds fixed maximum message size (1000 bytes)"]
    assert not h.queue.messages
    assert h.codes("NOOP\r\n") == ["250"]


def spilledMessage(lines: int = 5000) -> str:
    """A message over the 1,000 bytes that the spilling tests keep in memory."""
    return "Subject: big\r\n\r\n" + "a\r\n" * lines


def test_a_large_body_is_spilled_while_it_arrives_and_its_file_removed():
    h = Harness()
    h.queue.spillOver = 1000
    h.login()
    h.transaction()
    wire = spilledMessage()
    h.send(wire[:500])
    h.send(wire[500:])
    assert [p.stat().st_size > 0 for p in h.queue.spillDir.iterdir()] == [True]
    assert h.codes(".\r\n") == ["250"]
    [(_, _, content)] = h.queue.messages
    assert h.queue.spilled and content.endswith(b"\r\n\r\n" + b"a\r\n" * 5000)
    assert b"\r\nSubject: big\r\n" in content
    assert list(h.queue.spillDir.iterdir()) == []


def test_spilled_files_go_when_refused_or_when_the_client_leaves():
    h = Harness(maxSize=8000)
    h.queue.spillOver = 1000
    h.login()
    h.transaction()
    h.send(spilledMessage())
    assert h.codes(".\r\n") == ["552"]
    assert list(h.queue.spillDir.iterdir()) == []
    h.transaction()
    h.send(spilledMessage(lines=2000))
    assert len(list(h.queue.spillDir.iterdir())) == 1
    h.protocol.connectionLost(None)
    assert list(h.queue.spillDir.iterdir()) == []


def test_sequence_errors_and_simple_commands():
    h = Harness()
    assert h.codes("MAIL FROM:<a@example.com>\r\n") == ["503"]
    h.login()
    assert h.codes("RCPT TO:<b@example.org>\r\n") == ["503"]
    assert h.codes("DATA\r\n") == ["503"]
    h.send("MAIL FROM:<a@example.com>\r\n")
    assert h.codes("DATA\r\n") == ["554"]
    assert h.codes("MAIL FROM:<a@example.com>\r\n") == ["503"]
    assert h.codes("NOOP\r\n") == ["250"]
    assert h.codes("VRFY someone\r\n") == ["252"]
    assert h.codes("HELP\r\n") == ["214"]
    assert h.codes("RSET\r\n") == ["250"]
    assert h.send("FOO\r\n") == ["500 5.5.1 Command unrecognized"]
    assert h.send("QUIT\r\n") == ["221 2.0.0 Bye"]
    assert h.transport.disconnecting


def test_replies_in_order_when_storage_is_slow():
    h = Harness()
    h.login()
    h.transaction()
    h.queue.hold = True
    assert h.send("Subject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n") == []
    h.queue.release()
    assert [line[:3] for line in h.lines()] == ["250", "221"]


def test_storage_failure_is_451_never_250_or_5xx():
    h = Harness()
    h.login()
    h.transaction()
    from smtpeter.smtp import SMTPRefusal

    h.queue.error = SMTPRefusal(R.LOCAL_ERROR)
    assert h.send("Subject: x\r\n\r\nhi\r\n.\r\n") == [
        "451 4.3.0 Local error in processing, try again later"
    ]


def test_unexpected_error_is_451_without_details():
    h = Harness()
    h.login()
    h.transaction()
    h.queue.error = RuntimeError("secret internal detail")
    lines = h.send("Subject: x\r\n\r\nhi\r\n.\r\n")
    assert lines == ["451 4.3.0 Local error in processing, try again later"]
    assert "secret" not in h.transport.value().decode()
    from twisted.python import log as _  # noqa: F401


def test_low_disk_is_452_at_mail():
    h = Harness(freeBytes=lambda: 1000)
    h.login()
    assert h.send("MAIL FROM:<a@example.com>\r\n") == [
        "452 4.3.1 Insufficient system storage, try again later"
    ]


def test_idle_timeout_closes_with_421():
    h = Harness()
    h.send("EHLO c.test\r\n")
    h.clock.advance(299)
    assert not h.transport.disconnecting
    h.transport.clear()
    h.clock.advance(2)
    assert h.lines()[0].startswith("421 4.4.2")
    assert h.transport.disconnecting


def test_a_closed_session_that_does_not_go_away_is_aborted():
    h = Harness()
    h.send("QUIT\r\n")
    assert h.transport.disconnecting and not h.transport.disconnected
    h.clock.advance(4)
    assert not h.transport.disconnected
    h.clock.advance(2)
    assert h.transport.disconnected  # aborted: no waiting for the client's close_notify


def test_a_session_that_ends_in_time_is_not_aborted_later():
    h = Harness()
    h.send("QUIT\r\n")
    h.protocol.connectionLost(None)
    assert not h.clock.getDelayedCalls()


def test_an_unfinished_starttls_handshake_is_dropped():
    h = Harness(handshakeTimeout=timedelta(seconds=10))
    h.send("EHLO c.test\r\nSTARTTLS\r\n")
    h.transport.clear()
    h.clock.advance(10)
    assert h.transport.disconnected
    assert h.lines() == []  # nothing can be said to a client with half a handshake


def test_an_unfinished_implicit_tls_handshake_is_dropped():
    h = Harness(implicitTLS=True, handshakeTimeout=timedelta(seconds=10), finishHandshake=False)
    h.clock.advance(10)
    assert h.transport.disconnected


def test_a_finished_handshake_is_not_dropped():
    h = Harness(handshakeTimeout=timedelta(seconds=10))
    h.secure()
    h.clock.advance(11)
    assert not h.transport.disconnecting


def test_junk_commands_past_the_limit_count_as_errors():
    h = Harness()
    lines = h.send("NOOP\r\n" * 100 + "RSET\r\n" * 19)
    assert lines.count("250 2.0.0 Ok") == 100
    assert not h.transport.disconnecting
    assert h.send("VRFY x\r\n")[-1].startswith("421 4.7.0")
    assert h.transport.disconnecting


def test_a_message_resets_the_junk_count():
    h = Harness()
    h.login()
    h.send("NOOP\r\n" * 105)  # 5 errors
    h.transaction()
    assert h.send("Subject: x\r\n\r\nhi\r\n.\r\n")[0].startswith("250")
    h.send("NOOP\r\n" * 105)  # 5 more, not 105
    assert not h.transport.disconnecting


def test_a_message_resets_the_error_count():
    h = Harness()
    h.login()
    h.send("XYZZY\r\n" * 19)  # one short of the limit
    h.transaction()
    assert h.send("Subject: x\r\n\r\nhi\r\n.\r\n")[0].startswith("250")
    h.send("XYZZY\r\n" * 19)  # 19 again, not 38
    assert not h.transport.disconnecting
    assert h.send("XYZZY\r\n")[-1].startswith("421 4.7.0")


def test_rset_before_each_of_many_messages_on_one_connection_is_not_junk():
    h = Harness()
    h.login()
    for n in range(300):
        assert h.codes(
            "RSET\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"
        ) == ["250", "250", "250", "354"], n
        assert h.codes(f"Subject: {n}\r\n\r\nhi\r\n.\r\n") == ["250"], n
    assert len(h.queue.messages) == 300
    assert not h.transport.disconnecting


def test_transactions_abandoned_with_rset_for_ever_are_still_cut_off():
    h = Harness()
    h.login()
    h.transaction()
    assert h.send("Subject: x\r\n\r\nhi\r\n.\r\n")[0].startswith("250")
    loop = "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nRSET\r\n"
    lines = h.send(loop * 119)
    assert lines.count("250 2.0.0 Reset state") == 119, lines[-3:]
    assert not h.transport.disconnecting
    assert h.send(loop)[-1].startswith("421 4.7.0")  # the 120th RSET: 100 free, 20 errors
    assert h.transport.disconnecting


def test_commands_wait_while_the_client_reads_no_replies():
    h = Harness()
    h.protocol.pauseProducing()  # what the transport does when its buffer fills
    assert h.send("NOOP\r\nNOOP\r\n") == []
    h.send(b"EHLO c.test\r\n" * 30000)  # past the pipeline bound: no more reading
    assert h.transport.producerState == "paused"
    h.protocol.resumeProducing()
    assert h.lines()[:2] == ["250 2.0.0 Ok", "250 2.0.0 Ok"]
    assert h.transport.producerState == "producing"


def test_session_cap_closes_even_busy_sessions():
    h = Harness()
    for _ in range(12):
        h.clock.advance(280)
        h.send("NOOP\r\n")
    h.transport.clear()
    h.clock.advance(280)
    assert h.lines()[0].startswith("421 4.4.2")


def test_too_many_errors_close_the_connection():
    h = Harness()
    h.send("BOGUS\r\n" * 20)
    assert h.lines()[-1].startswith("421 4.7.0")
    assert h.transport.disconnecting


def test_noop_with_leading_whitespace_helo_injection_is_refused():
    h = Harness()
    assert h.send("EHLO a\nX-Injected: 1\r\n") == ["500 5.5.2 Bare <CR> or <LF> in command line"]
    assert h.codes("EHLO not_a_host!\r\n") == ["501"]


def test_connections_per_address_are_limited():
    first = Harness(maxConnectionsPerAddress=2)
    settings = first.settings

    def another():
        from twisted.internet.address import IPv4Address

        from smtpeter.smtp import SubmissionServer
        from smtpeter.testing import TLSStringTransport

        protocol = SubmissionServer(settings, False)
        transport = TLSStringTransport(peerAddress=IPv4Address("TCP", "192.0.2.7", 4322))
        protocol.makeConnection(transport)
        return protocol, transport

    second, secondTransport = another()
    third, thirdTransport = another()
    assert secondTransport.value().startswith(b"220 ")
    assert thirdTransport.value() == (
        b"421 4.7.0 gw.test Too many connections from your address, try again later\r\n"
    )
    assert thirdTransport.disconnecting
    third.connectionLost()
    second.connectionLost()
    fourth, fourthTransport = another()
    assert fourthTransport.value().startswith(b"220 ")
    assert dict(settings.connections) == {"192.0.2.7": 2}


def test_received_header_uses_the_ipv6_literal_form():
    from twisted.internet.address import IPv6Address

    from smtpeter.smtp import SubmissionServer
    from smtpeter.testing import TLSStringTransport

    h = Harness()
    h.protocol = SubmissionServer(h.settings, True)
    h.transport = TLSStringTransport(peerAddress=IPv6Address("TCP", "2001:db8::7", 4321))
    h.protocol.makeConnection(h.transport)
    h.send("EHLO c.test\r\n")
    h.send(f"AUTH PLAIN {plain('alice', Harness.PASSWORD)}\r\n")
    h.transaction()
    h.send("Subject: x\r\n\r\nhi\r\n.\r\n")
    assert h.queue.messages[0][2].startswith(b"Received: from c.test ([IPv6:2001:db8::7])\r\n")


@pytest.mark.parametrize(
    "content, detail",
    [
        (
            "this is not a header\r\nSubject: x\r\n\r\nbody\r\n",
            "header line 1 is not a 'Name: value' field"
            " (is the empty line between header and body missing?)",
        ),
        (
            "Subject: x\r\nnot a field\r\n\r\nbody\r\n",
            "header line 2 is not a 'Name: value' field"
            " (is the empty line between header and body missing?)",
        ),
        (
            " folded first\r\nSubject: x\r\n\r\nbody\r\n",
            "the header starts with a continuation line",
        ),
    ],
)
def test_a_header_that_does_not_parse_is_refused_saying_where(content, detail):
    """The header splitter's own error (smtpeter.message) answered as a 550 5.6.0 with its text."""
    h = Harness()
    h.login()
    h.transaction()
    lines = h.send(content + ".\r\n")
    assert lines == [f"550 5.6.0 Message refused: {detail}"]
    assert not h.queue.messages


def test_connections_per_address_count_an_ipv6_64_and_mapped_ipv4_as_one_client():
    from twisted.internet.address import IPv6Address

    from smtpeter.smtp import SubmissionServer

    from .harness import TLSStringTransport

    first = Harness(maxConnectionsPerAddress=2)
    settings = first.settings

    def connect(host):
        transport = TLSStringTransport(peerAddress=IPv6Address("TCP", host, 4322))
        SubmissionServer(settings, False).makeConnection(transport)
        return transport.value()[:4]

    # The harness's own session is 192.0.2.7's first.
    assert connect("::ffff:192.0.2.7") == b"220 "
    assert connect("::ffff:192.0.2.7") == b"421 "
    assert connect("2001:db8::1") == b"220 "
    assert connect("2001:db8::2") == b"220 "
    assert connect("2001:db8::3") == b"421 "
    assert connect("2001:db8:0:1::3") == b"220 "
    assert set(settings.connections) == {"192.0.2.7", "2001:db8::/64", "2001:db8:0:1::/64"}
