"""
End to end: what the gateway adds to a message, and the per-message options
it accepts or refuses, through the real gateway to a real receiving server.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import smtplib
import sqlite3
from pathlib import Path

import dkim
import pytest

from smtpeter.testing import SinkServer

from ..conftest import Gateway, eventually
from .conftest import EFFECTS, compose, send

MESSAGES = Path(__file__).parents[1] / "fixtures" / "messages"


def test_a_message_without_message_id_or_date_gets_both(gateway, sink):
    password = gateway.createLogin("app")
    send(gateway, "app", password, compose({}, subject="bare"))
    complete = compose(
        {"Message-ID": "<mine@app.example>", "Date": "Tue, 24 Nov 2026 02:00:00 +0100"}
    )
    send(gateway, "app", password, complete)
    received = {email.message_from_bytes(r.data)["Subject"]: r.data for r in sink.wait(2)}
    bare = email.message_from_bytes(received["bare"])
    assert re.fullmatch(r"<\d+\.[0-9a-f]{16}@gw\.test>", bare["Message-ID"])
    assert email.utils.parsedate_to_datetime(bare["Date"]).utcoffset().total_seconds() == 0
    kept = received["features"]
    assert kept.count(b"Message-ID:") == 1 and b"Message-ID: <mine@app.example>\r\n" in kept
    assert kept.count(b"\r\nDate:") == 1 and b"Date: Tue, 24 Nov 2026 02:00:00 +0100\r\n" in kept


def test_images_default_is_accepted(gateway, sink):
    password = gateway.createLogin("app", "hostedimages")
    send(gateway, "app", password, compose({"X-Smtpeter-Images": "default"}))
    [received] = sink.wait(1)
    assert not EFFECTS["hostedimages"](received)  # default is inline: the image stays in
    assert b"x-smtpeter" not in received.data.lower()


@pytest.mark.parametrize("tags", ["spring sale", "a;b"])
def test_tags_with_white_space_or_semicolons_are_refused(gateway, tags):
    password = gateway.createLogin("app")
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(gateway, "app", password, compose({"X-Smtpeter-Tags": tags}))
    assert refused.value.smtp_code == 550
    assert refused.value.smtp_error.startswith(b"5.6.0 ")
    assert b"without white space, ';' or ','" in refused.value.smtp_error


def test_links_a_redirect_should_not_carry_are_left_alone(makeGateway, sink):
    gateway = makeGateway(sink, "--public-url", "http://gw.test:8080")
    password = gateway.createLogin("app", "trackclicks")
    untouched = [
        "http://user@example.com/",
        "https://bank.example@evil.example/login",
        "https://example.com/" + "a" * 2000,
        "javascript:alert(1)",
        "ftp://files.example.com/x",
    ]
    anchors = "".join(f'<a href="{url}">x</a>\n' for url in [*untouched, "https://ok.example/"])
    composed = email.message.EmailMessage()
    composed["Subject"] = "links"
    composed.set_content(anchors, subtype="html", cte="quoted-printable")  # keeps lines short
    message = composed.as_bytes(policy=email.policy.SMTP)
    send(gateway, "app", password, message)
    [received] = sink.wait(1)
    body = email.message_from_bytes(received.data).get_payload(decode=True).decode()
    for url in untouched:
        assert f'href="{url}"' in body, url
    assert len(re.findall(r'href="http://gw\.test:8080/c/[^"]+/ok\.example"', body)) == 1


def test_ambiguous_mime_leaves_with_every_byte_and_a_warning_event(makeGateway, sink):
    gateway = makeGateway(sink, "--public-url", "http://gw.test:8080")
    password = gateway.createLogin("app", "trackclicks", "trackopens", "inlinecss")
    original = (MESSAGES / "reused-boundary.eml").read_bytes().replace(b"\n", b"\r\n")
    send(gateway, "app", password, original)
    [received] = sink.wait(1)
    assert received.data.endswith(b"\r\n" + original)  # after our Received line, as it came
    db = sqlite3.connect(gateway.data / "smtpeter.sqlite")
    [(details,)] = eventually(
        lambda: db.execute("SELECT details FROM events WHERE type = 'warning'").fetchall(),
        what="a warning event",
    )
    assert "reuses the enclosing boundary" in json.loads(details)["text"]


def test_long_lines_are_accepted_reencoded_and_signed(tmp_path, sink):
    gateway = Gateway(tmp_path / "data", sink.port)
    gateway.cli("init")  # the key exists before the start: no wait for the key reload
    record = json.loads(gateway.cli("domain", "add", "example.com", "--json").stdout)
    gateway.start()
    try:
        deliverLongLines(gateway, sink, record)
    finally:
        gateway.stop()


def deliverLongLines(gateway, sink, record):
    password = gateway.createLogin("app", "trackclicks")
    html = "<html><body>" + '<p>Grüße <a href="https://shop.example.com/x">deal</a></p>' * 300
    attachment = bytes(b for b in range(1, 256) if b not in b"\r\n") * 10  # no line ends
    message = (
        b"From: news@example.com\r\nTo: reader@example.org\r\nSubject: one line\r\n"
        b"Message-ID: <long@example.com>\r\nDate: Tue, 24 Nov 2026 02:00:00 +0000\r\n"
        b"X-Long: " + b" ".join([b"word"] * 400) + b"\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + html.encode()
        + b"\r\n--b\r\nContent-Type: application/octet-stream\r\n\r\n"
        + attachment
        + b"\r\n--b--\r\n"
    )
    send(gateway, "app", password, message)
    [received] = sink.wait(1)
    assert max(map(len, received.data.split(b"\r\n"))) <= 998
    parsed = email.message_from_bytes(received.data)
    assert parsed["X-Long"].replace("\r\n", "") == " ".join(["word"] * 400)
    html_part, blob = [p for p in parsed.walk() if not p.is_multipart()]
    assert html_part["Content-Transfer-Encoding"] == "quoted-printable"
    assert "Grüße" in html_part.get_payload(decode=True).decode()
    assert blob.get_payload(decode=True) == attachment

    def dns(name, timeout=5):
        return record["txt"].encode() if name == f"{record['name']}.".encode() else None

    assert dkim.verify(received.data, dnsfunc=dns)


def test_a_header_line_that_cannot_be_folded_is_refused(gateway):
    password = gateway.createLogin("app")
    message = b"Subject: x\r\nX-Token: " + b"t" * 1500 + b"\r\n\r\nbody\r\n"
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(gateway, "app", password, message)
    assert refused.value.smtp_code == 550
    assert b"5.6.0 Message refused: the X-Token header has a line longer than 998" in (
        refused.value.smtp_error
    )


def test_eight_bit_parts_go_quoted_printable_to_a_server_without_8bitmime(makeGateway):
    old = SinkServer(eightBit=False).start()
    try:
        gateway = makeGateway(old, name="old-hop")
        password = gateway.createLogin("app")
        text = "Grüße aus Köln\r\n".encode()
        message = (
            b"Subject: x\r\nMessage-ID: <8@example.com>\r\nDate: Tue, 24 Nov 2026 02:00:00 +0000\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            + text
        )
        send(gateway, "app", password, message)
        [received] = old.wait(1)
        assert received.data.isascii()
        assert b"BODY=8BITMIME" not in received.mailParams.encode()
        parsed = email.message_from_bytes(received.data)
        assert parsed["Content-Transfer-Encoding"] == "quoted-printable"
        assert parsed.get_payload(decode=True) == text
    finally:
        old.stop()
