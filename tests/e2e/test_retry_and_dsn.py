"""Temporary failures are retried; permanent ones and expiry produce RFC 3464 DSNs."""

from __future__ import annotations

import email
import json
import time

from .conftest import connect


def send(gateway, password, sender, recipients, rcptOptions=(), ret="HDRS"):
    body = b"Subject: t\r\n\r\nbody\r\n"
    client = connect(gateway, implicit=False)
    client.login("app", password)
    client.mail(sender, [f"RET={ret}", "ENVID=env-1"] if sender and ret else [])
    for recipient in recipients:
        code, _ = client.rcpt(recipient, list(rcptOptions))
        assert code == 250
    code, _ = client.data(body)
    assert code == 250
    client.quit()


def reportOf(message) -> email.message.Message:
    parsed = email.message_from_bytes(message.data)
    assert parsed.get_content_type() == "multipart/report"
    assert parsed.get_param("report-type") == "delivery-status"
    return parsed


def statusFields(parsed) -> list[dict]:
    part = [p for p in parsed.walk() if p.get_content_type() == "message/delivery-status"][0]
    blocks = part.get_payload()
    return [dict(b.items()) for b in blocks[1:]]


def test_temporary_failure_is_retried_until_delivered(makeGateway, sink):
    attempts = []

    def policy(stage, argument):
        if stage == "RCPT":
            attempts.append(time.monotonic())
            if len(attempts) < 3:
                return "451 4.3.0 greylisted, try again"
        return None

    sink.policy = policy
    gateway = makeGateway(sink, "--retry-initial", "1s")
    password = gateway.createLogin("app")
    send(gateway, password, "a@example.com", ["later@example.org"])
    [received] = sink.wait(1, timeout=30)
    assert received.recipients == ["later@example.org"]
    assert len(attempts) == 3
    assert attempts[2] - attempts[1] >= attempts[1] - attempts[0] - 0.2  # the delay grows
    gateway.waitForLog("deferral <later@example.org>")


def test_permanent_failure_returns_a_dsn_to_the_sender(makeGateway, sink):
    sink.policy = lambda stage, arg: "550 5.1.1 no such user" if arg == "gone@example.org" else None
    gateway = makeGateway(sink)
    password = gateway.createLogin("app")
    send(
        gateway,
        password,
        "sender@example.com",
        ["gone@example.org", "ok@example.org"],
        ["ORCPT=rfc822;orig@example.org"],
    )
    messages = sink.wait(2)
    [dsn] = [m for m in messages if m.mailFrom == ""]
    assert dsn.recipients == ["sender@example.com"]
    parsed = reportOf(dsn)
    [fields] = statusFields(parsed)
    assert fields["Final-Recipient"] == "rfc822; gone@example.org"
    assert fields["Original-Recipient"] == "rfc822;orig@example.org"
    assert fields["Action"] == "failed"
    assert fields["Status"] == "5.1.1"
    assert "550 5.1.1 no such user" in fields["Diagnostic-Code"]
    # RET=HDRS: only the header comes back.
    kinds = [p.get_content_type() for p in parsed.walk()]
    assert "text/rfc822-headers" in kinds and "message/rfc822" not in kinds
    assert b"Original-Envelope-Id: env-1" in dsn.data
    [ok] = [m for m in messages if m.mailFrom == "sender@example.com"]
    assert ok.recipients == ["ok@example.org"]


def test_no_dsn_for_notify_never_or_null_sender(makeGateway, sink):
    sink.policy = lambda stage, arg: "550 5.1.1 no such user" if arg.startswith("gone") else None
    gateway = makeGateway(sink)
    password = gateway.createLogin("app")
    send(gateway, password, "sender@example.com", ["gone1@example.org"], ["NOTIFY=NEVER"])
    send(gateway, password, "", ["gone2@example.org"])
    send(gateway, password, "sender@example.com", ["marker@example.org"])
    sink.wait(1)
    log = gateway.waitForLog("failure <gone1@", "failure <gone2@", "delivery <marker@")
    time.sleep(1)  # a DSN, if one were (wrongly) made, is delivered within this
    assert [m.recipients for m in sink.messages] == [["marker@example.org"]]
    assert log.count("failure <gone") == 2


def test_expiry_returns_a_failed_dsn(makeGateway, sink):
    sink.policy = lambda stage, arg: "451 4.4.1 down" if arg == "slow@example.org" else None
    gateway = makeGateway(sink, "--retry-initial", "0.5s", "--max-queue-time", "3s")
    password = gateway.createLogin("app")
    send(gateway, password, "sender@example.com", ["slow@example.org"], ret=None)
    [dsn] = sink.wait(1, timeout=30)
    assert dsn.mailFrom == "" and dsn.recipients == ["sender@example.com"]
    [fields] = statusFields(reportOf(dsn))
    assert fields["Action"] == "failed"
    assert fields["Status"] == "4.4.7"
    # RET unspecified with a small message: the full message comes back.
    assert b"Content-Type: message/rfc822" in dsn.data


def test_queue_list_shows_waiting_recipients_and_why(makeGateway, sink):
    sink.policy = lambda stage, arg: "451 4.3.0 mailbox busy" if arg == "busy@example.org" else None
    gateway = makeGateway(sink, "--retry-initial", "1h")
    password = gateway.createLogin("app")
    send(gateway, password, "sender@example.com", ["busy@example.org", "ok@example.org"])
    gateway.waitForLog("deferral <busy@example.org>", "delivery <ok@example.org>")
    [entry] = json.loads(gateway.cli("queue", "list", "--json").stdout)
    assert entry["sender"] == "sender@example.com" and entry["login"] == "app"
    busy, ok = entry["recipients"]
    assert (busy["address"], busy["status"], busy["attempts"]) == ("busy@example.org", "pending", 1)
    assert "451 4.3.0 mailbox busy" in busy["last"] and busy["next_attempt"] > time.time() + 3000
    assert (ok["status"], ok["attempts"]) == ("delivered", 1)
    text = gateway.cli("queue", "list").stdout
    assert "busy@example.org  pending  attempts=1" in text and "1 message(s) in the queue" in text
