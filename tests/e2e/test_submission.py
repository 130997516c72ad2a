"""
End to end: the real gateway process, real TLS, Python's smtplib as the
client, a real receiving server; what arrives is compared byte for byte.
"""

from __future__ import annotations

import re
import smtplib

import pytest

from .conftest import connect

BODY = (
    "Message-ID: <greetings@client.test>\r\n"
    "Date: Tue, 24 Nov 2026 02:00:00 +0000\r\n"
    "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
    "From: alice@example.com\r\n"
    "To: bob@example.org\r\n"
    "X-Smtpeter-TrackClicks: false\r\n"
    "x-smtpeter-tags: launch, weekly\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    ".leading dot line\r\n"
    "..two dots\r\n"
    "Grüße aus Köln — 8bit text\r\n"
    ".\r\n"  # a line holding a single dot: stuffed by smtplib, unstuffed by us
    "last line\r\n"
).encode()

EXPECTED_BODY = BODY.replace(b"X-Smtpeter-TrackClicks: false\r\n", b"").replace(
    b"x-smtpeter-tags: launch, weekly\r\n", b""
)


def withoutReceived(data: bytes) -> bytes:
    assert data.startswith(b"Received: from client.test ([127.0.0.1])\r\n")
    rest = data.split(b"\r\n", 1)[1]
    while rest[:1] == b"\t":
        rest = rest.split(b"\r\n", 1)[1]
    return rest


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "implicit-tls"])
@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_message_arrives_byte_for_byte(gateway, sink, implicit, mechanism):
    password = gateway.createLogin(f"app-{mechanism}-{implicit}", "trackclicks")
    client = connect(gateway, implicit)
    client.user, client.password = f"app-{mechanism}-{implicit}", password
    code, _ = client.auth(mechanism, getattr(client, f"auth_{mechanism.lower()}"))
    assert code == 235
    refused = client.sendmail("alice@example.com", ["bob@example.org"], BODY)
    assert refused == {}
    client.quit()
    [received] = sink.wait(1)
    assert received.mailFrom == "alice@example.com"
    assert received.recipients == ["bob@example.org"]
    assert withoutReceived(received.data) == EXPECTED_BODY
    assert b"x-smtpeter" not in received.data.lower()
    # The Received header names the TLS session's version and cipher.
    assert re.search(
        rb"\(smtpeter\) with ESMTPSA\r\n\t\(using TLSv1\.3 with cipher TLS_\w+\);\r\n",
        received.data,
    ), received.data[:300]


def sendOne(gateway, login: str) -> tuple[int, str]:
    """One message on its own connection (STARTTLS, AUTH, QUIT): the reply to its DATA."""
    password = gateway.createLogin(login)
    client = connect(gateway, implicit=False)
    client.login(login, password)
    client.mail("a@example.com")
    client.rcpt("b@example.org")
    code, text = client.data(b"Subject: x\r\n\r\nhello\r\n")
    client.quit()
    return code, text.decode()


def test_replies_name_the_queue_id(gateway, sink):
    code, text = sendOne(gateway, "app")
    assert code == 250
    assert text.startswith("2.0.0 Ok: queued as ")
    qid = text.rsplit(" ", 1)[1]
    sink.wait(1)
    assert qid in gateway.logText()


def test_a_message_on_its_own_connection_makes_one_line_and_one_per_delivery(gateway, sink):
    code, text = sendOne(gateway, "one-liner")
    assert code == 250
    qid = text.rsplit(" ", 1)[1]
    sink.wait(1)
    log = gateway.waitForLog(f"{qid} delivery <b@example.org>")
    # STARTTLS, AUTH and QUIT add nothing: the one line names the login.
    [line] = [line for line in log.splitlines() if "one-liner" in line]
    assert f"one-liner: queued {qid} from <a@example.com> for 1 recipient(s)" in line
    assert len([line for line in log.splitlines() if qid in line]) == 2


def test_wrong_password_then_right_one(gateway, sink):
    password = gateway.createLogin("app")
    client = connect(gateway, implicit=False)
    with pytest.raises(smtplib.SMTPAuthenticationError) as error:
        client.login("app", "not-the-password")
    assert error.value.smtp_code == 535
    assert error.value.smtp_error.startswith(b"5.7.8")
    # The server keeps serving the same connection.
    client.login("app", password)
    client.quit()


def test_plaintext_is_refused_end_to_end(gateway):
    client = smtplib.SMTP("127.0.0.1", gateway.smtpPort, timeout=30)
    client.ehlo("client.test")
    assert "auth" not in client.esmtp_features
    assert client.docmd("AUTH", "PLAIN AGFwcABwdw==")[0] == 538
    assert client.mail("a@example.com")[0] == 530
    client.quit()


def test_login_changes_apply_without_restart(gateway, sink):
    password = gateway.createLogin("app")
    gateway.cli("login", "disable", "app")
    client = connect(gateway, implicit=False)
    with pytest.raises(smtplib.SMTPAuthenticationError):
        client.login("app", password)
    client.close()
    gateway.cli("login", "enable", "app")
    client = connect(gateway, implicit=False)
    client.login("app", password)
    client.quit()


def test_multiple_recipients_each_delivered(gateway, sink):
    password = gateway.createLogin("app")
    client = connect(gateway, implicit=True)
    client.login("app", password)
    client.sendmail(
        "a@example.com", ["r1@example.org", "r2@example.net"], b"Subject: m\r\n\r\nx\r\n"
    )
    client.quit()
    received = sink.wait(1)
    assert sorted(r for m in received for r in m.recipients) == ["r1@example.org", "r2@example.net"]


def test_idle_client_is_timed_out(makeGateway, sink):
    gateway = makeGateway(sink, "--idle-timeout", "1s", name="idle")
    client = smtplib.SMTP("127.0.0.1", gateway.smtpPort, timeout=30)
    client.ehlo("client.test")
    gateway.waitForLog("closing idle connection from 127.0.0.1")
    code, text = client.noop()  # answered by the 421 the server sent before closing
    assert code == 421 and text.startswith(b"4.4.2 gw.test Timeout")


def test_json_logger(tmp_path, sink):
    from ..conftest import Gateway

    gateway = Gateway(tmp_path / "data", sink.port)
    gateway.twistdOptions = ["--logger", "smtpeter.logging.json"]
    try:
        gateway.start()
        import json

        gateway.waitForLog("ready")  # logged once the queue is resumed, after the listeners
        password = gateway.createLogin("app-json")
        client = connect(gateway, implicit=False)
        client.login("app-json", password)
        client.sendmail("alice@example.com", ["bob@example.org"], BODY)
        client.quit()
        sink.wait(1)
        gateway.waitForLog("delivery <bob@example.org>")
        # Every line JSON, the workers' informational ones too (they are
        # not written as text beside the parent's), with their fields.
        records = [json.loads(line) for line in gateway.logText().splitlines() if line.strip()]
        assert any("ready" in r.get("log_format", "") for r in records)
        [queued] = [r for r in records if ": queued " in r.get("log_format", "")]
        assert queued["login"] == "app-json" and queued["worker"] in (1, 2)
    finally:
        gateway.stop()
