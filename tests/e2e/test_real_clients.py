"""Real SMTP clients users actually have: swaks and curl, over both TLS kinds."""

from __future__ import annotations

import subprocess

import pytest

from ..conftest import needs

MESSAGE = (
    b"Message-ID: <real@client.test>\r\nDate: Tue, 24 Nov 2026 02:00:00 +0000\r\n"
    b"Subject: real client\r\nX-Smtpeter-Tags: cli\r\n\r\n.dot first\r\nbody\r\n"
)


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "implicit-tls"])
@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_swaks(gateway, sink, tmp_path, implicit, mechanism):
    needs("swaks")
    password = gateway.createLogin("swaks")
    message = tmp_path / "message.eml"
    message.write_bytes(MESSAGE)
    port = gateway.smtpsPort if implicit else gateway.smtpPort
    result = subprocess.run(
        [
            "swaks",
            "--server",
            f"127.0.0.1:{port}",
            "--tlsc" if implicit else "--tls",
            "--auth",
            mechanism,
            "--auth-user",
            "swaks",
            "--auth-password",
            password,
            "--from",
            "a@example.com",
            "--to",
            "b@example.org",
            "--data",
            f"@{message}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "250 2.0.0 Ok: queued as" in result.stdout
    [received] = sink.wait(1)
    # swaks itself adds an empty line before the final dot.
    assert received.data.endswith(b"Subject: real client\r\n\r\n.dot first\r\nbody\r\n\r\n")


def test_swaks_wrong_password_gets_535(gateway):
    needs("swaks")
    gateway.createLogin("swaks")
    result = subprocess.run(
        [
            "swaks",
            "--server",
            f"127.0.0.1:{gateway.smtpPort}",
            "--tls",
            "--auth",
            "PLAIN",
            "--auth-user",
            "swaks",
            "--auth-password",
            "wrong",
            "--to",
            "b@example.org",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "535 5.7.8" in result.stdout


def curl(url: str, password: str, upload: str, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            "curl",
            "--silent",
            "--show-error",
            *options,
            url,
            "--user",
            f"curl:{password}",
            "--mail-from",
            "a@example.com",
            "--mail-rcpt",
            "b@example.org",
            "--upload-file",
            upload,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "implicit-tls"])
def test_curl(gateway, sink, tmp_path, implicit):
    needs("curl")
    password = gateway.createLogin("curl")
    message = tmp_path / "message.eml"
    message.write_bytes(MESSAGE)
    url = (
        f"smtps://127.0.0.1:{gateway.smtpsPort}"
        if implicit
        else f"smtp://127.0.0.1:{gateway.smtpPort}"
    )
    result = curl(url, password, str(message), "--ssl-reqd", "--insecure")
    assert result.returncode == 0, result.stderr
    [received] = sink.wait(1)
    assert received.recipients == ["b@example.org"]
    assert b"x-smtpeter" not in received.data.lower()
    assert received.data.endswith(b"\r\n.dot first\r\nbody\r\n")


def test_curl_without_tls_is_refused(gateway):
    needs("curl")
    password = gateway.createLogin("curl")
    result = curl(f"smtp://127.0.0.1:{gateway.smtpPort}", password, "/dev/null")
    assert result.returncode != 0
    gateway.waitForLog("127.0.0.1 MAIL: 530 5.7.0 Must issue a STARTTLS command first")
