"""The bounce listener's session (C{--mx}), over a StringTransport: what a busy MTA does."""

from __future__ import annotations

from twisted.internet.defer import succeed

from smtpeter.smtp._inbound import BounceServer

from .harness import Harness

BOUNCE = "Subject: Undelivered Mail Returned to Sender\r\n\r\nSorry.\r\n.\r\n"


class RecordingIntake:
    """Takes every address at bounce.test as one of ours; keeps what it receives."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list, bytes]] = []

    def check(self, address: str):
        return address if address.endswith("@bounce.test") else None

    def receive(self, mailFrom: str, found: list, content: bytes):
        self.received.append((mailFrom, found, content))
        return succeed(None)


def bounceHarness() -> tuple[Harness, RecordingIntake]:
    intake = RecordingIntake()
    h = Harness(makeProtocol=lambda settings, implicitTLS: BounceServer(settings, intake))
    assert h.codes("EHLO mx.example.org\r\n") == ["250"]
    return h, intake


def test_an_mta_delivering_300_bounces_on_one_connection_with_rset_before_each():
    h, intake = bounceHarness()
    for n in range(300):
        assert h.codes("RSET\r\nMAIL FROM:<>\r\nRCPT TO:<b1@bounce.test>\r\nDATA\r\n") == [
            "250",
            "250",
            "250",
            "354",
        ], n
        assert h.send(BOUNCE) == ["250 2.0.0 Ok: bounce recorded"], n
    assert len(intake.received) == 300
    assert not h.transport.disconnecting


def test_an_accepted_bounce_resets_the_errors_of_refused_recipients():
    h, intake = bounceHarness()
    for n in range(30):  # 30 refused recipients in all, never 20 in a row
        assert h.codes("MAIL FROM:<>\r\nRCPT TO:<someone@else.test>\r\n") == ["250", "550"], n
        assert h.codes("RCPT TO:<b1@bounce.test>\r\nDATA\r\n") == ["250", "354"], n
        assert h.codes(BOUNCE) == ["250"], n
    assert len(intake.received) == 30
    assert not h.transport.disconnecting


def test_a_client_that_only_resets_is_still_cut_off():
    h, intake = bounceHarness()
    lines = h.send("RSET\r\n" * 119)
    assert lines.count("250 2.0.0 Reset state") == 119
    assert not h.transport.disconnecting
    assert h.send("RSET\r\n")[-1].startswith("421 4.7.0")
    assert h.transport.disconnecting


def test_refused_recipients_alone_are_cut_off_after_20():
    h, intake = bounceHarness()
    h.send("MAIL FROM:<>\r\n")
    assert h.codes("RCPT TO:<someone@else.test>\r\n" * 19) == ["550"] * 19
    assert not h.transport.disconnecting
    assert h.codes("RCPT TO:<someone@else.test>\r\n") == ["550", "421"]
    assert intake.received == []
