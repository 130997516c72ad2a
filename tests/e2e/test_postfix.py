"""
A real Postfix, configured as docs/postfix.md tells users, relays through
the gateway. The Postfix instance is private (its own config directory,
queue and loopback port); the system's Postfix configuration is not used.
"""

from __future__ import annotations

import os
import shutil
import smtplib
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from ..conftest import eventually, freePort, needs, waitForPort

POSTFIX_ETC = "/usr/share/postfix"


def run(*args: str) -> None:
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode == 0, f"{args[0]}: {result.stderr or result.stdout}"


@pytest.fixture
def postfix(gateway):
    needs("postfix")
    if os.geteuid() != 0:
        pytest.skip("running a private Postfix needs root")
    # Postfix daemons run as the postfix user, who cannot enter pytest's
    # private (0700) temporary directories.
    base = Path(tempfile.mkdtemp(prefix="smtpeter-postfix-"))
    os.chmod(base, 0o755)
    etc = base / "etc"
    etc.mkdir(parents=True)
    for d in ("spool", "data"):
        (base / d).mkdir()
    shutil.chown(base / "data", "postfix", "postfix")
    # Postfix's compiled-in defaults, plus the settings below; master.cf as shipped.
    (etc / "main.cf").write_text("")
    master = "/etc/postfix/master.cf"
    shutil.copy(
        master if os.path.exists(master) else f"{POSTFIX_ETC}/master.cf.dist", etc / "master.cf"
    )
    for source in ("/etc/postfix/dynamicmaps.cf", f"{POSTFIX_ETC}/dynamicmaps.cf"):
        if os.path.exists(source):
            shutil.copy(source, etc / "dynamicmaps.cf")
            break
    if os.path.isdir("/etc/postfix/dynamicmaps.cf.d"):
        shutil.copytree("/etc/postfix/dynamicmaps.cf.d", etc / "dynamicmaps.cf.d")
    password = gateway.createLogin("postfix-web1")
    relay = f"[127.0.0.1]:{gateway.smtpPort}"
    # Step 2 of docs/postfix.md, verbatim but for paths.
    (etc / "sasl_passwd").write_text(f"{relay} postfix-web1:{password}\n")
    os.chmod(etc / "sasl_passwd", 0o600)
    run("postmap", "-c", str(etc), str(etc / "sasl_passwd"))
    listen = freePort()
    run(
        "postconf",
        "-c",
        str(etc),
        "-e",
        f"relayhost = {relay}",
        "smtp_sasl_auth_enable = yes",
        f"smtp_sasl_password_maps = hash:{etc}/sasl_passwd",
        "smtp_sasl_security_options = noanonymous",
        "smtp_sasl_tls_security_options = noanonymous",
        "smtp_tls_security_level = encrypt",
        # What makes this instance private and loopback-only:
        f"queue_directory = {base}/spool",
        f"data_directory = {base}/data",
        "inet_interfaces = loopback-only",
        "inet_protocols = ipv4",
        "compatibility_level = 3.6",
        "mydestination =",
        "myhostname = client.test",
        "mynetworks = 127.0.0.0/8",
        "alias_maps =",
        "alias_database =",
        "smtpd_relay_restrictions = permit_mynetworks, reject",
        "smtp_dns_support_level = disabled",
        "smtp_host_lookup = native",
        f"maillog_file = {base}/maillog",
        f"maillog_file_prefixes = {base}",
        "master_service_disable =",
        f"multi_instance_name = test{listen}",
    )
    run("postconf", "-c", str(etc), "-M#", "smtp/inet")
    run(
        "postconf",
        "-c",
        str(etc),
        "-Me",
        f"127.0.0.1:{listen}/inet=127.0.0.1:{listen} inet n - n - - smtpd",
    )
    run("postconf", "-c", str(etc), "-F", "*/*/chroot = n")
    run("postfix", "-c", str(etc), "start")
    process = subprocess.Popen(["sleep", "3600"])  # waitForPort wants a live process
    try:
        waitForPort(listen, process)
        yield listen, base
    finally:
        process.kill()
        subprocess.run(["postfix", "-c", str(etc), "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


#: Postfix's line for a message the gateway accepted.
SENT = "status=sent (250 2.0.0 Ok: queued as"


def test_postfix_relays_through_the_gateway(postfix, sink):
    port, base = postfix
    client = smtplib.SMTP("127.0.0.1", port, timeout=30)
    client.sendmail(
        "app@example.com",
        ["customer@example.org"],
        b"Subject: via postfix\r\nX-Smtpeter-TrackOpens: false\r\n\r\nhello through postfix\r\n",
    )
    client.quit()
    try:
        [received] = sink.wait(1, timeout=60)
    except TimeoutError:
        time.sleep(0.5)
        raise AssertionError((base / "maillog").read_text(errors="replace")[-3000:])
    assert received.mailFrom == "app@example.com"
    assert received.recipients == ["customer@example.org"]
    assert b"hello through postfix" in received.data
    assert b"x-smtpeter" not in received.data.lower()
    assert b"by gw.test (smtpeter) with ESMTPSA" in received.data
    # Postfix logs the delivery after the gateway's 250, which can be after
    # the sink has the message.
    maillog = base / "maillog"
    try:
        eventually(lambda: SENT in maillog.read_text(errors="replace"), 10, "status=sent")
    except AssertionError:
        raise AssertionError(maillog.read_text(errors="replace")[-3000:]) from None
