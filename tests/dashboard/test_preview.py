"""
Reading a message for the dashboard's preview: parts found in nested
multiparts, charsets, inline C{cid:} images, malformed and huge mail (a
note, never an exception), and the frame's policy.
"""

from __future__ import annotations

import base64
from email.message import EmailMessage
from email.policy import default

from smtpeter.dashboard._preview import (
    MAX_DEPTH,
    MAX_HEADER_VALUE,
    MAX_HEADERS,
    MAX_INLINE,
    MAX_PARSE,
    MAX_PARTS,
    SANDBOX,
    framePolicy,
    part,
    preview,
)

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def newsletter() -> bytes:
    """mixed [ alternative [ text, related [ html, image ] ], pdf ]."""
    message = EmailMessage()
    message["From"] = "Zoë <shop@example.com>"
    message["To"] = "reader@example.org"
    message["Subject"] = "Grüße aus Köln"
    message.set_content("Plain: hello")
    message.add_alternative(
        '<p>Hello <img src="cid:logo@shop"> <img src="cid:nosuch@shop"></p>', subtype="html"
    )
    message.get_payload()[1].add_related(PNG, "image", "png", cid="<logo@shop>")
    message.add_attachment(b"%PDF-1.4 tiny", "application", "pdf", filename="Rechnung März.pdf")
    return message.as_bytes(policy=default)


def test_nested_multiparts_give_text_html_and_attachments():
    shown = preview(newsletter())
    assert shown.problem == ""
    assert shown.text.strip() == "Plain: hello"
    assert "<p>Hello" in shown.html
    assert ("Subject", "Grüße aus Köln") in shown.headers
    assert ("From", "Zoë <shop@example.com>") in shown.headers
    names = [(a.name, a.type, a.size, a.inline) for a in shown.attachments]
    assert names == [
        ("part-2", "image/png", len(PNG), True),
        ("Rechnung März.pdf", "application/pdf", len(b"%PDF-1.4 tiny"), False),
    ]
    # Each listed part is the one its number downloads.
    for listed in shown.attachments:
        data, kind, name = part(newsletter(), listed.index)
        assert (len(data), kind, name) == (listed.size, listed.type, listed.name)
    assert part(newsletter(), 2)[0] == PNG
    assert part(newsletter(), 99) is None and part(newsletter(), -1) is None


def test_cid_images_become_data_urls_and_nothing_else_does():
    html = preview(newsletter()).html
    assert html.startswith('<base target="_blank"><p>Hello')
    assert 'src="data:image/png;base64,' + base64.b64encode(PNG).decode() + '"' in html
    assert "cid:logo@shop" not in html
    assert 'src="cid:nosuch@shop"' in html  # unknown: left as it is (the frame loads nothing)


def test_an_inline_image_too_large_is_not_inlined():
    message = EmailMessage()
    message.set_content("<img src='cid:big'>", subtype="html")
    message.add_related(b"\0" * (MAX_INLINE + 1), "image", "png", cid="<big>")
    shown = preview(message.as_bytes())
    assert "cid:big" in shown.html and "data:" not in shown.html
    assert shown.attachments[0].size == MAX_INLINE + 1


def test_charsets_are_decoded_and_bad_bytes_replaced():
    latin = (
        b"Subject: =?iso-8859-1?q?caf=E9?=\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\ncaf\xe9\r\n"
    )
    shown = preview(latin)
    assert shown.text.strip() == "café"
    assert ("Subject", "café") in shown.headers
    unknown = b"Content-Type: text/html; charset=x-no-such\r\n\r\n<p>h\xc3\xa9 \xff</p>\r\n"
    assert preview(unknown).html.strip().endswith("><p>hé \ufffd</p>")
    codec = b"Content-Type: text/plain; charset=rot13\r\n\r\nuryyb\r\n"  # not a text encoding
    assert preview(codec).text.strip() == "uryyb"
    # Raw 8-bit header bytes (no encoded words) are shown replaced, never as surrogates.
    raw = preview(b"Subject: \xff\xfe caf\xc3\xa9\r\nX-Nul: a\x00b\r\n\r\nbody\r\n")
    assert ("Subject", "\ufffd\ufffd café") in raw.headers
    assert ("X-Nul", "ab") in raw.headers
    for _, value in raw.headers:
        value.encode("utf-8")  # no lone surrogates: the page can be written


def test_malformed_mime_is_shown_with_a_note_never_an_error():
    broken = (
        b"Subject: broken\r\nContent-Type: multipart/mixed; boundary=xyz\r\n\r\n"
        b"no boundary ever comes\r\n"
    )
    shown = preview(broken)
    assert "not well-formed MIME" in shown.problem
    assert "StartBoundaryNotFoundDefect" in shown.problem
    bad64 = (
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"aGVsbG8gd29ybGQ!!!@@@\r\n"
    )
    assert preview(bad64).text is not None
    for junk in (b"", b"\0\0\0", b"\xff" * 1000, b"::::\r\n\r\n", b"Content-Type: /\r\n\r\nx"):
        shown = preview(junk)  # does not raise
        assert all(isinstance(v, str) for _, v in shown.headers)
    assert preview(b"Content-Type: /\r\n\r\nx").attachments[0].type == "application/octet-stream"


def test_nesting_and_parts_are_bounded():
    deep = b"Subject: deep\r\n"
    for level in range(MAX_DEPTH + 5):
        deep += b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (level, level)
    deep += b"Content-Type: text/plain\r\n\r\nat the bottom\r\n"
    shown = preview(deep)
    assert shown.text is None and f"{MAX_DEPTH} levels deep" in shown.problem
    many = EmailMessage()
    many.set_content("text")
    for n in range(MAX_PARTS + 10):
        many.add_attachment(b"x", "application", "octet-stream", filename=f"{n}.bin")
    shown = preview(many.as_bytes())
    assert len(shown.attachments) == MAX_PARTS - 1 and f"first {MAX_PARTS} parts" in shown.problem
    # Nested beyond what the parser itself can follow: a note.
    abyss = b"".join(
        b"Content-Type: multipart/mixed; boundary=a%d\r\n\r\n--a%d\r\n" % (n, n)
        for n in range(1000)
    )
    assert "could not be read" in preview(abyss).problem


def test_headers_are_bounded():
    many = b"".join(b"X-N: %d\r\n" % n for n in range(MAX_HEADERS + 50))
    long = b"X-Long: " + b"y" * (MAX_HEADER_VALUE * 2) + b"\r\n"
    shown = preview(long + many + b"\r\nbody\r\n")
    assert len(shown.headers) == MAX_HEADERS
    name, value = shown.headers[0]
    assert name == "X-Long" and value.endswith(f" … ({MAX_HEADER_VALUE * 2} characters)")
    assert len(value) < MAX_HEADER_VALUE + 30


def test_a_huge_message_is_not_parsed():
    huge = b"Subject: huge\r\n\r\n" + b"x" * MAX_PARSE
    shown = preview(huge)
    assert shown.headers == [] and shown.text is None and "MiB" in shown.problem
    assert part(huge, 0) is None


def test_an_attached_message_is_one_part():
    inner = EmailMessage()
    inner["Subject"] = "inner"
    inner.set_content("<script>x</script>", subtype="html")
    outer = EmailMessage()
    outer.set_content("see attached")
    outer.add_attachment(inner)
    shown = preview(outer.as_bytes())
    assert shown.html is None and shown.text.strip() == "see attached"
    [attached] = shown.attachments
    assert attached.type == "message/rfc822" and attached.name == "message-1.eml"
    assert b"Subject: inner" in part(outer.as_bytes(), 1)[0]


def test_the_frame_policy_allows_no_script_form_or_remote_load():
    strict = framePolicy(False).decode()
    directives = dict(d.strip().partition(" ")[::2] for d in strict.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["img-src"] == "data:"
    assert directives["form-action"] == "'none'"
    assert "script-src" not in directives  # default-src 'none' covers scripts
    assert directives["sandbox"] == SANDBOX
    assert not {"allow-scripts", "allow-forms", "allow-same-origin"} & set(SANDBOX.split())
    assert "'unsafe-inline'" not in directives["default-src"]
    remote = dict(d.strip().partition(" ")[::2] for d in framePolicy(True).decode().split(";"))
    assert remote["img-src"] == "data: https:"
    assert {k: v for k, v in remote.items() if k != "img-src"} == {
        k: v for k, v in directives.items() if k != "img-src"
    }


def test_links_open_in_a_new_tab():
    def html(page: str) -> str:
        return preview(b"Content-Type: text/html\r\n\r\n" + page.encode()).html

    base = '<base target="_blank">'
    assert (
        html("<!DOCTYPE html><HEAD lang=x><a href=x>")
        == f"<!DOCTYPE html><HEAD lang=x>{base}<a href=x>"
    )
    assert html("<!doctype html><p>") == f"<!doctype html>{base}<p>"
    assert html("<header>x</header>") == f"{base}<header>x</header>"
