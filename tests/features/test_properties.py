"""
Property: whatever the message, the chain does not crash, every MIME part
survives (hosted images aside), and parts no feature touches keep their bytes.
"""

import binascii
import email
import email.policy
import re
from html import escape as htmlEscape
from urllib.parse import urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smtpeter.features._document import (
    _MARK,
    EncodedTemplate,
    Slot,
    Template,
    _crlf,
    _qp,
    _qpEach,
)
from smtpeter.features._links import MAX_URL, isTrackable
from smtpeter.message import _mime
from smtpeter.message._encoding import fitQP, printableQP, quotedPrintable

from .conftest import makeChain, message

ALL = ("hostedimages", "inlinecss", "preventscam", "trackclicks", "trackopens", "trackbounces")

texts = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=300
)
html = st.builds(
    lambda before, url, text, after, tag: (
        f'<{tag}>{before}<a href="{url}">{text}</a><style>p {{ color: red }}</style>{after}'
    ),
    texts,
    st.sampled_from(["https://example.com/x", "mailto:a@b.c", "#top", "http://e.org/?a=1&b=2", ""]),
    texts,
    texts,
    st.sampled_from(["p", "div", "html><body", "table><tr><td", "!-- "]),
)
encodings = st.sampled_from(["7bit", "8bit", "quoted-printable", "base64"])
charsets = st.sampled_from(["utf-8", "iso-8859-1", "windows-1252", "us-ascii", "bogus-charset"])


def encode(text: str, cte: str, charset: str) -> bytes:
    try:
        raw = text.encode(charset)
    except (LookupError, UnicodeEncodeError):
        raw = text.encode("utf-8")
    if cte == "base64":
        return email.base64mime.body_encode(raw).encode("ascii")
    if cte == "quoted-printable":
        import quopri

        return quopri.encodestring(raw)
    return raw.replace(b"\r", b"")


@st.composite
def leaves(draw):
    kind = draw(
        st.sampled_from(["text/html", "text/plain", "application/octet-stream", "image/png"])
    )
    cte, charset = draw(encodings), draw(charsets)
    body = draw(html) if kind == "text/html" else draw(texts)
    headers = f"Content-Type: {kind}; charset={charset}\nContent-Transfer-Encoding: {cte}\n"
    if kind == "image/png":
        headers += f"Content-ID: <img{draw(st.integers(0, 3))}@x>\n"
    return (headers + "\n").encode() + encode(body, cte, charset)


@st.composite
def entities(draw, depth=0):
    if depth >= 3 or draw(st.booleans()):
        return draw(leaves())
    subtype = draw(st.sampled_from(["mixed", "alternative", "related"]))
    boundary = f"b{depth}{draw(st.integers(0, 999))}"
    children = draw(st.lists(entities(depth + 1), min_size=1, max_size=3))
    out = f'Content-Type: multipart/{subtype}; boundary="{boundary}"\n\npreamble\n'.encode()
    for child in children:
        out += f"--{boundary}\n".encode() + child + b"\n"
    return out + f"--{boundary}--\nepilogue\n".encode()


def leafBytes(content: bytes) -> list[bytes]:
    return [
        b"".join(p.fields) + p.separator + p.body
        for p in _mime.parse(content).walk()
        if not p.children
    ]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(entity=entities(), features=st.sets(st.sampled_from(ALL)))
def test_chain_never_loses_a_part(tmp_path_factory, entity, features):
    content = (b"From: a@example.com\nSubject: property\n" + entity).replace(b"\n", b"\r\n")
    chain = makeChain(tmp_path_factory.mktemp("chain"))
    prepared = chain.prepare(message(content, features), content)
    out = chain.render(prepared, 0).content
    before = _mime.parse(content)
    after = _mime.parse(out)
    hosted = "hostedimages" in features
    leavesBefore = [p for p in before.walk() if not p.children]
    leavesAfter = [p for p in after.walk() if not p.children]
    kept = [p for p in leavesBefore if not (hosted and p.headers.get_content_maintype() == "image")]
    assert len(leavesAfter) >= len(kept)
    assert len(leavesAfter) <= len(leavesBefore)
    changed = {"text/html", "text/plain"}
    outBytes = set(leafBytes(out))
    for part in kept:
        if part.contentType not in changed:
            assert b"".join(part.fields) + part.separator + part.body in outBytes
    # What a mail client reads: the same sequence of types (hosted images aside)
    assert [p.contentType for p in leavesAfter if p.headers.get_content_maintype() != "image"] == [
        p.contentType for p in leavesBefore if p.headers.get_content_maintype() != "image"
    ]
    email.message_from_bytes(out, policy=email.policy.default)  # parses


segmentText = st.lists(
    st.sampled_from(list("ab =.\t\r\nüé€<>&\"'") + ["x" * 40, "x" * 73, "é" * 25, "\r\n", " \r\n"]),
    max_size=30,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(segmentText, st.builds(Slot, st.just("f"), segmentText)), max_size=8),
    st.booleans(),
    st.text(alphabet="aZ9-_=/:?&.% ", max_size=200),
)
def test_encoded_template_decodes_to_the_filled_template(segments, escape, value):
    template = Template(tuple(s for s in segments if s != ""), escape)
    encoded = EncodedTemplate(template).render(lambda slot: value)
    expected = EncodedTemplate(template).template.render(lambda slot: value).encode("utf-8")
    assert binascii.a2b_qp(encoded) == expected
    lines = encoded.split(b"\r\n")
    assert all(len(line) <= 76 for line in lines)
    assert b"\n" not in b"".join(lines) and b"\r" not in b"".join(lines)


def test_a_slot_right_after_a_full_line_keeps_lines_within_76():
    for before in ("x" * 75, "x" * 76, "x" * 74 + "é", "x" * 73 + "é", "x" * 150):
        template = Template((before, Slot("f", "v"), "after"))
        encoded = EncodedTemplate(template).render(lambda slot: "x" * 76)
        assert max(len(line) for line in encoded.split(b"\r\n")) <= 76, before
        assert binascii.a2b_qp(encoded) == (before + "x" * 76 + "after").encode()


def test_white_space_at_the_end_of_a_full_line_stays_within_76():
    # CPython's b2a_qp writes this line as 77 characters ("...=20").
    text = "a" + "x" * 73 + " \r\nnext\r\n"
    encoded = EncodedTemplate(Template((text,))).render(lambda slot: "")
    assert max(len(line) for line in encoded.split(b"\r\n")) <= 76
    assert binascii.a2b_qp(encoded) == text.encode()


def _trackableByUrlsplit(url: str) -> bool:
    """The definition L{isTrackable} keeps, in urlsplit's terms (its fast path must agree)."""
    if not url.lower().startswith(("http://", "https://")):
        return False
    if len(url) > MAX_URL or any(ord(c) < 32 or ord(c) == 127 for c in url):
        return False
    try:
        parts = urlsplit(url)
        return bool(parts.hostname) and "@" not in parts.netloc
    except ValueError:
        return False


urlish = st.builds(
    lambda scheme, authority, rest: scheme + authority + rest,
    st.sampled_from(["http://", "https://", "HTTP://", "hTtPs://", "ftp://", "http:/", ""]),
    st.text(st.sampled_from("ab.:@[]1\u00e9\uff03 \t-_%"), max_size=20),
    st.text(st.sampled_from("/?#a=&:@[] \n"), max_size=10),
)


@given(urlish)
def test_is_trackable_agrees_with_urlsplit(url):
    assert isTrackable(url) == _trackableByUrlsplit(url)


@given(st.text(st.sampled_from("ab\r\n \u00e9"), max_size=40))
def test_line_ends_become_crlf_as_the_pattern_says(text):
    assert _crlf(text) == re.sub(r"\r\n|\r|\n", "\r\n", text)


@given(
    st.text(st.sampled_from("ab.=~!< >\t\u00e9\r\n-"), max_size=90)
    | st.text(st.sampled_from("a.~/"), min_size=60, max_size=400)
    | st.just(".")
)
def test_text_that_needs_no_encoding_comes_out_as_quotedPrintable_makes_it(text):
    assert _qp(text) == quotedPrintable(text.encode("utf-8"))


@settings(max_examples=300)
@given(
    st.lists(
        st.lists(
            st.sampled_from(["a", "=", " ", ".", "\r\n", "<&\"'", "\u00e9", "x" * 80, _MARK]),
            max_size=12,
        ).map("".join),
        max_size=6,
    ),
    st.booleans(),
)
def test_texts_encoded_together_come_out_as_each_alone(texts, escape):
    # One call for many texts must not change a byte of any of them, even
    # when a text holds the line that separates them in that call.
    alone = [_qp(htmlEscape(t, quote=True) if escape else t) for t in texts]
    assert _qpEach(texts, escape) == alone


@given(st.binary(max_size=400))
def test_fitted_lines_are_what_the_line_by_line_check_gives(data):
    encoded = binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n")
    fitted = fitQP(encoded)
    assert all(len(line) <= 76 for line in fitted.split(b"\r\n"))
    assert binascii.a2b_qp(fitted.replace(b"\r\n", b"\n")) == binascii.a2b_qp(
        encoded.replace(b"\r\n", b"\n")
    )


printable = st.lists(
    st.sampled_from(["a", "=", " ", "\t", ".", "\r\n", "~", "x" * 70, "=" * 30, " \r\n"]),
    max_size=40,
).map("".join)


@settings(max_examples=300)
@given(printable)
def test_printable_text_is_encoded_without_b2a_qp_to_the_same_decoded_bytes(text):
    data = text.encode("ascii")
    encoded = printableQP(data)
    assert encoded is not None
    assert binascii.a2b_qp(encoded) == data
    assert binascii.a2b_qp(encoded) == binascii.a2b_qp(binascii.b2a_qp(data, istext=True))
    lines = encoded.split(b"\r\n")
    assert all(len(line) <= 76 for line in lines)
    assert all(not line.endswith((b" ", b"\t")) and line != b"." for line in lines)
    assert b"\r" not in b"".join(lines) and b"\n" not in b"".join(lines)


def _byB2aQP(data: bytes) -> bytes:
    """quotedPrintable as it was before its fast path: b2a_qp, CRLF, lines fitted."""
    encoded = binascii.b2a_qp(data, istext=True)
    if b"\r\n" not in data:
        encoded = encoded.replace(b"\n", b"\r\n")
    return fitQP(encoded)


@given(st.binary(max_size=100) | printable.map(str.encode))
def test_quoted_printable_decodes_as_b2a_qp_would_have_it(data):
    plain = all(32 <= b < 127 or b in b"\t\r\n" for b in data)
    paired = data.count(b"\r") == data.count(b"\n") == data.count(b"\r\n")
    assert (printableQP(data) is not None) == (plain and paired)
    assert binascii.a2b_qp(quotedPrintable(data)) == binascii.a2b_qp(_byB2aQP(data))
