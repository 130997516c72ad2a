"""A message's header section split into raw fields, or refused with its own error."""

from __future__ import annotations

import pytest

from smtpeter.message import HeaderError, MessageError, fieldName, fieldValue, splitHeader


def test_fields_keep_their_continuation_lines_and_bytes():
    content = b"Subject: one\r\n two\r\nX-A:b\r\n\r\nbody\r\n"
    fields, rest = splitHeader(content)
    assert fields == [b"Subject: one\r\n two\r\n", b"X-A:b\r\n"]
    assert rest == b"\r\nbody\r\n"
    assert b"".join(fields) + rest == content


def test_a_header_without_a_body_is_all_fields():
    assert splitHeader(b"Subject: x\r\n") == ([b"Subject: x\r\n"], b"")


@pytest.mark.parametrize(
    "content, text",
    [
        (b"", "the message is empty"),
        (b"\r\nbody\r\n", None),  # an empty header is no error: the body follows at once
        (b" folded\r\nSubject: x\r\n\r\n", "the header starts with a continuation line"),
        (
            b"Subject: x\r\nno colon here\r\n\r\n",
            "header line 2 is not a 'Name: value' field"
            " (is the empty line between header and body missing?)",
        ),
    ],
)
def test_a_header_that_does_not_parse_raises_its_own_error(content, text):
    if text is None:
        assert splitHeader(content) == ([], content)
        return
    with pytest.raises(HeaderError) as raised:
        splitHeader(content)
    assert str(raised.value) == text
    assert isinstance(raised.value, MessageError)


def test_name_and_value():
    raw = b"Content-Type: text/plain;\r\n\tcharset=utf-8\r\n"
    assert fieldName(raw) == "content-type"
    assert fieldValue(raw) == "text/plain; charset=utf-8"


def test_the_message_package_imports_nothing_else_of_smtpeter():
    """Every stage of a message's path may use it without a cycle."""
    import subprocess
    import sys

    code = (
        "import sys, smtpeter.message\n"
        "print(sorted(m for m in sys.modules if m.startswith('smtpeter.')"
        " and not m.startswith('smtpeter.message')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
