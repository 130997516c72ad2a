"""The MIME tree keeps every byte it is not told to change."""

import pytest

from smtpeter.message import _mime

from ..conftest import corpus, fixture


@pytest.mark.parametrize("name", corpus())
def test_roundtrip(name):
    content = fixture(name)
    try:
        root = _mime.parse(content)
    except _mime.AmbiguousMIME:
        assert name == "reused-boundary"
        root = _mime.opaque(content)
    assert _mime.serialise(root) == content


def test_structure_of_apple_mail():
    root = _mime.parse(fixture("applemail"))
    assert root.contentType == "multipart/alternative"
    assert [c.contentType for c in root.children] == ["text/plain", "multipart/related"]
    related = root.children[1]
    assert [c.contentType for c in related.children] == ["text/html", "image/png"]
    assert related.children[1].contentId == "F00DFACE-1234-5678-9ABC-DEF012345678@example.org"
    assert related.children[1].decoded().startswith(b"\x89PNG")


def test_changed_multipart_rebuilt_from_original_delimiters():
    content = fixture("gmail")
    root = _mime.parse(content)
    root.changed = True
    assert _mime.serialise(root) == content


def test_collapse_keeps_outer_fields():
    content = (
        b"From: a@example.com\r\nSubject: x\r\nContent-Type: multipart/related; boundary=b\r\n"
        b"\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n--b\r\n"
        b"Content-Type: image/png\r\n\r\nxx\r\n--b--\r\n"
    )
    root = _mime.parse(content)
    del root.children[1], root.delimiters[1]
    _mime.collapse(root, 0)
    out = _mime.serialise(root)
    assert out == (b"From: a@example.com\r\nSubject: x\r\nContent-Type: text/html\r\n\r\n<p>hi</p>")


@pytest.mark.parametrize(
    "body, charset, expected",
    [
        ("café".encode("latin-1"), "iso-8859-1", "café"),
        ("café".encode(), "iso-8859-1", "cafÃ©"),  # declared charset decodes: it is believed
        ("café".encode(), "us-ascii", "café"),  # does not decode as declared: UTF-8 tried
        ("“x”".encode("cp1252"), "utf-8", "“x”"),  # neither: Windows-1252
        (b"x", "no-such-charset", "x"),
    ],
)
def test_text_decoding(body, charset, expected):
    part = _mime.parse(
        f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n".encode()
        + body
    )
    assert part.text() == expected


def test_multipart_without_delimiters_is_a_leaf():
    content = b"Content-Type: multipart/mixed; boundary=zz\r\n\r\nno delimiters here\r\n"
    root = _mime.parse(content)
    assert root.children == []
    assert _mime.serialise(root) == content


def test_a_multipart_that_never_closes_is_ambiguous():
    content = b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n\r\nhello\r\n"
    with pytest.raises(_mime.AmbiguousMIME, match="never closes"):
        _mime.parse(content)
    root = _mime.opaque(content)
    assert root.children == [] and _mime.serialise(root) == content


def test_a_nested_multipart_reusing_its_parents_boundary_is_ambiguous():
    with pytest.raises(_mime.AmbiguousMIME, match="reuses the enclosing boundary 'b1'"):
        _mime.parse(fixture("reused-boundary"))
