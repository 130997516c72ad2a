"""
DKIM signatures made through OpenSSL, checked by an independent verifier
(dkimpy) on the corpus and on awkward headers and bodies; the relaxed
canonicalisation compared with dkimpy's on generated input.
"""

from __future__ import annotations

import dkim
import pytest
from dkim.canonicalization import Relaxed
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpeter.features._dkimsign import DKIMError, relaxedBody, relaxedField, sign
from smtpeter.store import openDatabase
from smtpeter.store._domains import DomainStore

from ..conftest import corpus, fixture


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    store = DomainStore(openDatabase(tmp_path_factory.mktemp("dkim") / "db.sqlite"))
    return store.add("example.com")


def verify(key, message: bytes) -> bool:
    records = {f"{key.name}.".encode(): key.txt.encode()}
    return dkim.verify(message, dnsfunc=lambda name, timeout=5: records.get(name))


def signed(key, content: bytes) -> bytes:
    return sign(content, key.selector, key.domain, key.privateKey, 1_700_000_000) + content


@pytest.mark.parametrize("name", corpus())
def test_every_corpus_message_verifies(key, name):
    content = fixture(name)
    if not content.lower().startswith(b"from:") and b"\nfrom:" not in content.lower():
        content = b"From: a@example.com\r\n" + content
    out = signed(key, content)
    assert verify(key, out)
    assert not verify(key, out + b"tampered\r\n")


AWKWARD = (
    b"Received: from x\r\n\tby y; Tue, 1 Jan 2030 00:00:00 +0000\r\n"
    b"From:   Someone \t <a@example.com>  \r\n"
    b"To: b@example.org,\r\n  c@example.org\r\n"
    b"Subject: folded\r\n\t subject   with  spaces\r\n"
    b"X-Empty:\r\n"
    b"Cc: one@example.org\r\n"
    b"Cc: two@example.org\r\n"
    b"\r\n"
    b"line with trailing space   \r\n"
    b"tabs\t\tand   runs\r\n"
    b"\r\n\r\n\r\n"
)


def test_folded_repeated_and_spaced_headers_verify(key):
    out = signed(key, AWKWARD)
    assert verify(key, out)
    header = out.split(b"\r\n\r\n")[0]
    assert b"h=from:to:subject:cc:cc:from;" in header
    assert all(len(line) <= 78 for line in header.split(b"\r\n"))
    many = b"".join(b"Resent-To: r%d@example.org\r\n" % i for i in range(30)) + AWKWARD
    out = signed(key, many)
    assert verify(key, out)
    assert all(len(line) <= 78 for line in out.split(b"\r\n\r\n")[0].split(b"\r\n"))


def test_relaxed_means_whitespace_changes_still_verify(key):
    out = signed(key, AWKWARD)
    assert verify(
        key, out.replace(b"tabs\t\tand", b"tabs and").replace(b"space   \r\n", b"space\r\n")
    )
    assert verify(key, out.replace(b"\r\n\r\n\r\n", b"\r\n"))  # trailing empty lines


def test_tampering_is_caught(key):
    out = signed(key, AWKWARD)
    assert not verify(key, out.replace(b"runs", b"rune"))
    assert not verify(key, out.replace(b"Subject: folded", b"Subject: Folded"))
    assert not verify(key, out.replace(b"Cc: two@", b"Cc: three@"))
    # A second From, anywhere, breaks the signature: From is signed once more than it occurs.
    header, _, body = out.partition(b"\r\n\r\n")
    assert not verify(key, header + b"\r\nFrom: evil@example.net\r\n\r\n" + body)


def test_empty_and_unterminated_bodies(key):
    for content in (
        b"From: a@example.com\r\n\r\n",
        b"From: a@example.com\r\n",
        b"From: a@example.com\r\n\r\nno final line end",
    ):
        assert verify(key, signed(key, content)), content


def test_no_from_is_refused(key):
    with pytest.raises(DKIMError):
        sign(b"To: b@example.org\r\n\r\nhi\r\n", key.selector, key.domain, key.privateKey, 0)
    with pytest.raises(DKIMError):
        sign(b"not a header\r\n\r\nhi\r\n", key.selector, key.domain, key.privateKey, 0)


lines = st.lists(st.text(alphabet=" \tab.", max_size=12), max_size=8)


@settings(max_examples=300, deadline=None)
@given(lines, st.booleans())
def test_body_canonicalisation_matches_dkimpy(body, finalLineEnd):
    raw = "\r\n".join(body).encode() + (b"\r\n" if finalLineEnd else b"")
    if raw.endswith(b"\r\n") or not raw:
        # dkimpy appends CRLF after stripping trailing spaces on a last
        # unterminated line; RFC 6376 3.4.4 strips them first, as we do.
        assert relaxedBody(raw) == Relaxed.canonicalize_body(raw)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=" \tab:", max_size=20), st.lists(st.text(alphabet=" \tab", max_size=10)))
def test_header_canonicalisation_matches_dkimpy(first, continued):
    value = ("\r\n\t".join([first, *continued]) + "\r\n").encode()
    [(name, canonical)] = Relaxed.canonicalize_headers([(b"Sub-Ject ", value)])
    assert relaxedField(b"Sub-Ject ", value) + b"\r\n" == name + b":" + canonical
