"""
Security regressions: SMTP smuggling (bare CR/LF end-of-data variants),
long lines that must not leave DATA, unbounded buffers, BDAT chunks that
must not run as commands.
"""

from __future__ import annotations

import pytest

from .harness import Harness

SMUGGLE = b"MAIL FROM:<evil@example.net>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n"


@pytest.mark.parametrize(
    "fake_end",
    [
        b"\n.\n",
        b"\r.\r",
        b"\r.\n",
        b"\n.\r",
        b"\n.\r\n",
        b"\r\n.\n",
        b"\r.\r\n",
        b"\r\n.\r",
        b"\r\n\x00.\r\n",
    ],
    ids=repr,
)
def test_fake_end_of_data_does_not_end_data(fake_end):
    h = Harness()
    h.login()
    h.transaction()
    payload = b"Subject: real\r\n\r\nbefore" + fake_end + SMUGGLE
    replies = h.send(payload)
    # One message, answered once: the smuggled commands were data.
    assert [line[:3] for line in replies] == ["250"]
    assert len(h.queue.messages) == 1
    content = h.queue.messages[0][2]
    assert b"MAIL FROM:<evil@example.net>" in content
    # Nothing bare goes onward: every CR is followed by LF, every LF preceded by CR.
    assert content.count(b"\r") == content.count(b"\n") == content.count(b"\r\n")


def test_lf_only_message_is_normalised():
    h = Harness()
    h.login()
    h.transaction()
    h.send(b"Subject: lf\nX-Other: 1\n\nline one\nline two\r\n.\r\n")
    content = h.queue.messages[0][2]
    assert b"\r\nSubject: lf\r\nX-Other: 1\r\n" in content
    assert content.endswith(b"\r\n\r\nline one\r\nline two\r\n")


def test_long_line_stays_in_data_and_is_accepted_once():
    h = Harness()
    h.login()
    h.transaction()
    payload = b"Subject: x\r\n\r\n" + b"A" * 17000 + b"\r\n" + SMUGGLE
    replies = h.send(payload)
    assert len(replies) == 1 and replies[0].startswith("250 ")
    [(envelope, _, content)] = h.queue.messages
    assert envelope.recipients[0].address == "b@example.org"
    assert b"MAIL FROM:<evil@example.net>" in content  # the smuggled lines are content
    assert h.codes("NOOP\r\n") == ["250"]


def test_data_buffer_is_bounded_without_crlf():
    h = Harness()
    h.login()
    h.transaction()
    h.send(b"Subject: one long line\r\n\r\n")
    for _ in range(100):
        h.send(b"B" * 65536)
    assert len(h.protocol.buffer) <= 1001
    assert h.send(b"\r\n.\r\n")[0].startswith("250 ")  # 6.5 MB on one line: re-encoded
    [(_, _, content)] = h.queue.messages
    body = content.read() if hasattr(content, "read") else content
    assert b"Content-Transfer-Encoding: quoted-printable\r\n" in body
    assert max(map(len, body.split(b"\r\n"))) <= 76


def test_command_line_without_crlf_is_bounded_then_closed():
    h = Harness()
    seen = []
    for _ in range(20):
        seen += h.send(b"C" * 65536)
        assert len(h.protocol.buffer) <= 12290
    assert h.transport.disconnecting
    assert seen[0].startswith("421 4.5.0")


def test_overlong_command_line_gets_500_and_session_goes_on():
    h = Harness()
    assert h.send(b"NOOP " + b"x" * 20000 + b"\r\n") == ["500 5.5.6 Line too long"]
    assert h.codes("NOOP\r\n") == ["250"]


def test_bdat_chunk_is_not_executed_as_commands():
    h = Harness()
    h.login()
    chunk = b"MAIL FROM:<evil@example.net>\r\n"
    replies = h.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
    assert replies == ["502 5.5.1 BDAT not implemented (no CHUNKING); use DATA"]
    assert h.protocol.mailFrom is None


def test_bare_lf_in_command_is_refused():
    h = Harness()
    h.login()
    assert h.codes(b"MAIL FROM:<a@example.com>\nRCPT TO:<b@example.org>\r\n") == ["500"]
    assert h.protocol.mailFrom is None
