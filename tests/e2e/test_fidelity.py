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
import time
from pathlib import Path

import pytest

from .test_features import EFFECTS, compose, send

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
    deadline = time.monotonic() + 10
    while not (rows := db.execute("SELECT details FROM events WHERE type = 'warning'").fetchall()):
        assert time.monotonic() < deadline, "no warning event"
        time.sleep(0.1)
    [(details,)] = rows
    assert "reuses the enclosing boundary" in json.loads(details)["text"]
