"""The JSON parts of POST /v1/send made into MIME (smtpeter.message._compose)."""

from email import message_from_bytes, policy

import pytest

from smtpeter.message import Attachment, ComposeError, MessageParts, compose


def parsed(draft: MessageParts):
    data = compose(draft)
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF only
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    assert data.isascii()
    return message_from_bytes(data, policy=policy.default)


def test_text_alone_is_one_part():
    m = parsed(MessageParts(sender="a@example.com", to="b@example.org", subject="Hi", text="hello"))
    assert m.get_content_type() == "text/plain"
    assert m["Content-Transfer-Encoding"] == "7bit"
    assert m.get_content() == "hello\r\n"
    assert m["MIME-Version"] == "1.0"
    assert (m["From"], m["To"], m["Subject"]) == ("a@example.com", "b@example.org", "Hi")


def test_html_alone():
    m = parsed(MessageParts(sender="a@example.com", html="<p>hi</p>"))
    assert m.get_content_type() == "text/html"


def test_text_and_html_are_alternatives():
    m = parsed(MessageParts(sender="a@example.com", text="plain", html="<p>rich</p>"))
    assert m.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in m.iter_parts()] == ["text/plain", "text/html"]


def test_attachments_make_it_mixed_and_keep_their_bytes():
    data = bytes(range(256)) * 50
    m = parsed(
        MessageParts(
            sender="a@example.com",
            text="see attached",
            html="<p>see attached</p>",
            attachments=(
                Attachment("report.bin", "application/octet-stream", data),
                Attachment("résumé.pdf", "application/pdf", b"%PDF"),
            ),
        )
    )
    assert m.get_content_type() == "multipart/mixed"
    parts = list(m.iter_parts())
    assert parts[0].get_content_type() == "multipart/alternative"
    assert parts[1]["Content-Transfer-Encoding"] == "base64"
    assert parts[1].get_content() == data
    assert parts[2].get_filename() == "résumé.pdf"
    assert parts[2].get_content() == b"%PDF"
    assert "MIME-Version" not in parts[1]


def test_attachments_alone():
    m = parsed(
        MessageParts(sender="a@example.com", attachments=(Attachment("a.txt", "text/csv", b"x"),))
    )
    assert m.get_content_type() == "multipart/mixed"
    assert [p.get_filename() for p in m.iter_parts()] == ["a.txt"]


def test_non_ascii_headers_are_encoded_words():
    data = compose(
        MessageParts(
            sender="Jörg Müller <j@example.com>",
            to=["Zoë <z@example.org>", '"Lee, Ann" <ann@example.org>'],
            subject="Grüße aus Köln " * 8,
            text="x",
        )
    )
    header = data.split(b"\r\n\r\n")[0]
    assert b"=?utf-8?" in header
    assert "ö".encode() not in header
    m = message_from_bytes(data, policy=policy.default)
    assert m["From"].addresses[0].display_name == "Jörg Müller"
    assert [a.addr_spec for a in m["To"].addresses] == ["z@example.org", "ann@example.org"]
    assert m["To"].addresses[1].display_name == "Lee, Ann"
    assert m["Subject"].strip() == ("Grüße aus Köln " * 8).strip()


def test_non_ascii_and_long_lines_are_quoted_printable():
    m = parsed(MessageParts(sender="a@example.com", text="héllo " * 400, html="<p>" + "x" * 3000))
    text, html = m.iter_parts()
    assert text["Content-Transfer-Encoding"] == "quoted-printable"
    assert html["Content-Transfer-Encoding"] == "quoted-printable"
    assert text.get_content() == "héllo " * 400 + "\r\n"
    assert html.get_content() == "<p>" + "x" * 3000 + "\r\n"


def test_addresses_as_comma_strings_or_lists():
    m = parsed(
        MessageParts(
            sender="a@example.com",
            to="b@example.org, Carl <c@example.org>",
            cc=["d@example.org", "e@example.org, f@example.org"],
            replyto="Help <help@example.com>",
            text="x",
        )
    )
    assert len(m["To"].addresses) == 2
    assert [a.addr_spec for a in m["Cc"].addresses] == [
        "d@example.org",
        "e@example.org",
        "f@example.org",
    ]
    assert m["Reply-To"].addresses[0].addr_spec == "help@example.com"


@pytest.mark.parametrize(
    "draft, field",
    [
        (MessageParts(to="b@example.org\r\nBcc: evil@example.net", text="x"), "to"),
        (MessageParts(sender="a@example.com\nBcc: evil@example.net", text="x"), "from"),
        (MessageParts(cc=["c@example.org\rX: y"], text="x"), "cc"),
        (MessageParts(subject="Hi\r\nBcc: evil@example.net", text="x"), "subject"),
        (MessageParts(replyto="no address", text="x"), "replyto"),
        (MessageParts(to="<@route.example:a@b.c>", text="x"), "to"),
        (MessageParts(to=["a@example.org", 5], text="x"), "to"),  # type: ignore[list-item]
        (MessageParts(to='"quoted local"@example.org', text="x"), "to"),
        (MessageParts(sender="a@example.com"), "text"),
        (MessageParts(text="x", attachments=(Attachment("a", "nonsense", b""),)), "attachments"),
        (
            MessageParts(text="x", attachments=(Attachment("a\r\nX: y", "text/plain", b""),)),
            "attachments",
        ),
        (
            MessageParts(text="x", attachments=(Attachment("a", "message/rfc822", b""),)),
            "attachments",
        ),
        (MessageParts(text="x", raw=(("extra", "X-Bad\r\nBcc", "v"),)), "extra"),
        (MessageParts(text="x", raw=(("extra", "X-Bad", "v\r\nBcc: evil@example.net"),)), "extra"),
        (MessageParts(text="x", raw=(("extra", "X-Long", "a" * 2000),)), "extra"),
    ],
)
def test_refused_naming_the_field(draft, field):
    with pytest.raises(ComposeError) as caught:
        compose(draft)
    assert caught.value.field == field


def test_raw_fields_are_written_as_given_and_first():
    url = "https://example.com/unsubscribe/" + "x" * 150
    data = compose(
        MessageParts(
            sender="a@example.com",
            text="x",
            raw=(
                ("unsubscribe", "List-Unsubscribe", f"<{url}>, <mailto:u@example.com>"),
                ("extra", "X-Campaign", "spring " * 30),
                ("extra", "X-Note", "bär"),
            ),
        )
    )
    assert data.startswith(f"List-Unsubscribe: <{url}>, <mailto:u@example.com>\r\n".encode())
    m = message_from_bytes(data, policy=policy.default)
    assert m["X-Campaign"].strip() == ("spring " * 30).strip()
    assert m["X-Note"] == "bär"
    assert b"X-Note: =?utf-8?" in data
