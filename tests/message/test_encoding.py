"""Re-encoding for the next hop: long lines, and 8-bit data for servers without 8BITMIME."""

from __future__ import annotations

import base64
import email
import email.policy

import pytest

from smtpeter.message._encoding import Unfit, fitLines, foldField, sevenBit

LONG_HTML = b"<html><body>" + b"<p>caf\xc3\xa9 =sale= </p>" * 400 + b"</body></html>"


def lines(content: bytes) -> list[bytes]:
    return content.split(b"\r\n")


def parts(content: bytes) -> list[tuple[str, bytes]]:
    message = email.message_from_bytes(content, policy=email.policy.compat32)
    return [
        (p.get_content_type(), p.get_payload(decode=True))
        for p in message.walk()
        if not p.is_multipart()
    ]


def test_a_one_line_html_body_becomes_quoted_printable():
    content = (
        b"Subject: x\r\nContent-Type: text/html; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + LONG_HTML + b"\r\n"
    )
    out = fitLines(content)
    assert max(map(len, lines(out))) <= 76
    assert b"Content-Transfer-Encoding: quoted-printable\r\n" in out
    assert b"8bit" not in out
    assert parts(out) == [("text/html", LONG_HTML + b"\r\n")]


def test_only_the_parts_with_long_lines_change():
    short = b"--b\r\nContent-Type: text/plain\r\n\r\nshort and sweet\r\n"
    blob = bytes(range(1, 256)) * 8  # binary, no CRLF: one long "line"
    content = (
        b"Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"preamble\r\n" + short + b"--b\r\nContent-Type: text/html\r\n\r\n" + LONG_HTML + b"\r\n"
        b"--b\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: binary\r\n\r\n" + blob + b"\r\n--b--\r\nepilogue\r\n"
    )
    out = fitLines(content)
    assert max(map(len, lines(out))) <= 998
    assert out.startswith(content[: content.index(b"--b\r\nContent-Type: text/html")])
    assert out.endswith(b"\r\n--b--\r\nepilogue\r\n")
    assert parts(out) == [
        ("text/plain", b"short and sweet"),
        ("text/html", LONG_HTML),
        ("application/octet-stream", blob),
    ]
    assert b"Content-Transfer-Encoding: base64\r\n" in out


def test_base64_on_one_line_is_wrapped():
    data = bytes(range(256)) * 20
    content = (
        b"Subject: x\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode(data)
        + b"\r\n"
    )
    out = fitLines(content)
    assert max(map(len, lines(out))) <= 76
    assert parts(out) == [("image/png", data)]


def test_fitting_content_is_left_alone():
    content = b"Subject: x\r\n\r\n" + b"y" * 998 + b"\r\n"
    assert fitLines(content) is not None and fitLines(content) == content


def test_long_header_lines_are_folded_at_white_space():
    words = b" ".join(b"recipient%d@example.org," % i for i in range(100))
    raw = b"To: " + words + b"\r\n"
    folded = foldField(raw)
    assert max(map(len, lines(folded))) <= 998
    assert folded.replace(b"\r\n ", b" ") == raw  # unfolding gives the field back
    out = fitLines(b"Subject: x\r\n" + raw + b"\r\nbody\r\n")
    assert email.message_from_bytes(out)["To"].replace("\r\n", "") == words.decode()


def test_a_header_line_that_cannot_be_folded_is_unfit():
    with pytest.raises(Unfit, match="X-Token header has a line longer than 998"):
        fitLines(b"X-Token: " + b"t" * 1200 + b"\r\n\r\nbody\r\n")


@pytest.mark.parametrize(
    "content, says",
    [
        (
            b"Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\n" + b"z" * 2000 + b"\r\n",
            "message/rfc822 part",
        ),
        (
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n" + b"z" * 2000,
            "ambiguous",
        ),
        (
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
            + b"p" * 2000
            + b"\r\n--b\r\n\r\nx\r\n--b--\r\n",
            "outside the parts",
        ),
    ],
)
def test_long_lines_where_no_encoding_may_go_are_unfit(content, says):
    with pytest.raises(Unfit, match=says):
        fitLines(b"Subject: x\r\n" + content)


def test_eight_bit_parts_for_a_server_without_8bitmime():
    text = "Grüße aus Köln\r\n".encode()
    content = (
        b"Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
        b"\r\n" + text + b"--b\r\nContent-Type: text/plain\r\n\r\nascii only\r\n--b--\r\n"
    )
    out = sevenBit(content)
    assert out.isascii()
    assert parts(out) == [("text/plain", text[:-2]), ("text/plain", b"ascii only")]
    assert b"--b\r\nContent-Type: text/plain\r\n\r\nascii only\r\n--b--\r\n" in out
    seven = b"Subject: x\r\n\r\nplain ascii\r\n"
    assert sevenBit(seven) is seven
