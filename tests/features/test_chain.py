"""The chain: once per message, per recipient, untouched parts, failures that lose nothing."""

import email
import email.policy
import re

import dkim
import pytest
from zope.interface.verify import verifyObject

from smtpeter.features import Feature, IFeature, TokenSigner, discover
from smtpeter.message import mime
from smtpeter.store import openDatabase
from smtpeter.store._domains import DomainKeys, DomainStore

from ..conftest import fixture
from .conftest import PUBLIC, QID, SECRET, dkimSetup, makeChain, message

ALL = ("hostedimages", "inlinecss", "preventscam", "trackclicks", "trackopens", "trackbounces")
signer = TokenSigner(SECRET)


def html(content: bytes) -> str:
    parsed = email.message_from_bytes(content, policy=email.policy.default)
    return next(p for p in parsed.walk() if p.get_content_type() == "text/html").get_content()


def plain(content: bytes) -> str:
    parsed = email.message_from_bytes(content, policy=email.policy.default)
    return next(p for p in parsed.walk() if p.get_content_type() == "text/plain").get_content()


def test_builtin_features_are_plugins():
    found = {f.name: f for f in discover()}
    assert set(found) >= {
        "hostedimages",
        "inlinecss",
        "preventscam",
        "trackclicks",
        "trackopens",
        "trackbounces",
        "dkim",
    }
    for feature in found.values():
        verifyObject(IFeature, feature)
    order = [f.name for f in sorted(found.values(), key=lambda f: f.order)]
    assert order.index("hostedimages") < order.index("inlinecss") < order.index("trackclicks")
    assert order.index("trackclicks") < order.index("trackopens") < order.index("trackbounces")
    assert order[-1] == "dkim"


def test_no_features_no_change(tmp_path):
    chain = makeChain(tmp_path)
    content = fixture("newsletter")
    prepared = chain.prepare(message(content), content)
    assert prepared.shared
    assert chain.render(prepared, None).content == content


def test_untouched_parts_keep_their_bytes(tmp_path):
    chain = makeChain(tmp_path)
    content = fixture("attachments")
    prepared = chain.prepare(message(content, ALL), content)
    out = chain.render(prepared, 0).content
    original = mime.parse(content)
    pdf = original.children[1]
    terms = original.children[2]
    for part in (pdf, terms):
        raw = b"".join(part.fields) + part.separator + part.body
        assert raw in out
    unused = original.children[0].children[2]  # the image the HTML does not show
    assert b"".join(unused.fields) + unused.separator + unused.body in out


def test_each_recipient_gets_own_tokens(tmp_path):
    chain = makeChain(tmp_path)
    content = fixture("gmail")
    prepared = chain.prepare(message(content, ("trackclicks", "trackopens")), content)
    assert not prepared.shared
    first, second = chain.render(prepared, 0), chain.render(prepared, 1)
    assert first.content != second.content
    tokens = re.findall(r"/c/([A-Za-z0-9_-]+)", html(first.content))
    assert [signer.readClick(t).recipient for t in tokens] == [0, 0]
    assert [prepared.links[signer.readClick(t).link] for t in tokens] == [
        "https://photos.example.org/album/8xQz2",
        "https://maps.example.org/?q=52.37,4.89",
    ]
    opens = re.findall(r"/o/([A-Za-z0-9_-]+)\.gif", html(second.content))
    assert [signer.readOpen(t).recipient for t in opens] == [1]
    assert signer.readOpen(opens[0]).qid == QID


def test_links_in_text_parts(tmp_path):
    chain = makeChain(tmp_path)
    content = fixture("gmail")
    prepared = chain.prepare(message(content, ("trackclicks",)), content)
    text = plain(chain.render(prepared, 0).content)
    assert "https://photos.example.org" not in text
    assert re.search(rf"{PUBLIC}/c/[A-Za-z0-9_-]+/photos.example.org/album/8xQz2 \(the one", text)
    assert re.search(rf"<{PUBLIC}/c/[A-Za-z0-9_-]+/maps.example.org>\.", text)
    assert "café" in text


def test_untracked_links(tmp_path):
    chain = makeChain(tmp_path)
    content = fixture("newsletter")
    prepared = chain.prepare(message(content, ("trackclicks",)), content)
    out = html(chain.render(prepared, 0).content)
    assert 'href="mailto:help@example.com"' in out
    assert 'href="tel:+31201234567"' in out
    assert 'href="#top"' in out
    assert 'href="https://www.example.com/unsubscribe?u=12345&amp;l=nl"' in out
    assert "data-smtpeter-notrack" not in out
    assert "https://www.example.com/unsubscribe?u=12345&l=nl" not in prepared.links
    # without preventscam, a link that shows its own URL is tracked all the same
    assert 'href="https://www.example.com/"' not in out


LONG = "https://example.com/" + "a" * 2000


@pytest.mark.parametrize(
    "url, tracked",
    [
        ("https://example.com/ok", True),
        ("HTTP://Example.com/ok", True),
        ("http://user@example.com/", False),
        ("https://user:pass@example.com/", False),
        ("https://bank.example@evil.example/", False),
        ("https://example.com/a\x01b", False),
        ("https://example.com/a&#13;b", False),  # a CR, once the HTML is parsed
        ("https://example.com/a&#10;b", False),
        (LONG, False),
        ("https://", False),
        ("https://[::1/", False),
        ("javascript:alert(1)", False),
        ("ftp://example.com/file", False),
        ("data:text/html,hi", False),
    ],
)
def test_what_is_tracked_in_html(tmp_path, url, tracked):
    chain = makeChain(tmp_path)
    content = f'Content-Type: text/html\r\n\r\n<a href="{url}">x</a>\r\n'.encode()
    prepared = chain.prepare(message(content, ("trackclicks",)), content)
    out = html(chain.render(prepared, 0).content)
    assert (f"{PUBLIC}/c/" in out) is tracked, out
    assert bool(prepared.links) is tracked


@pytest.mark.parametrize(
    "url, tracked",
    [
        ("https://example.com/ok", True),
        ("http://user@example.com/", False),
        (LONG, False),
    ],
)
def test_what_is_tracked_in_text(tmp_path, url, tracked):
    chain = makeChain(tmp_path)
    content = f"Content-Type: text/plain\r\n\r\nsee {url} now\r\n".encode()
    prepared = chain.prepare(message(content, ("trackclicks",)), content)
    text = plain(chain.render(prepared, 0).content)
    assert (f"{PUBLIC}/c/" in text) is tracked, text
    if not tracked:
        assert f"see {url} now" in text.replace("=\n", "")


def test_preventscam(tmp_path):
    chain = makeChain(tmp_path)
    content = (
        b"Content-Type: text/html\r\n\r\n"
        b'<a href="https://www.Example.com/">example.com</a>'
        b'<a href="http://example.com">HTTPS://WWW.EXAMPLE.COM/</a>'
        b'<a href="https://example.com/a">example.com</a>'
        b'<a href="https://evil.example">https://bank.example</a>'
        b'<a href="https://example.com/b">click here</a>\r\n'
    )
    prepared = chain.prepare(message(content, ("trackclicks", "preventscam")), content)
    out = html(chain.render(prepared, 0).content)
    assert 'href="https://www.Example.com/"' in out
    assert 'href="http://example.com"' in out
    assert prepared.links == [
        "https://example.com/a",
        "https://evil.example",
        "https://example.com/b",
    ]
    alone = chain.prepare(message(content, ("preventscam",)), content)
    assert alone.shared and chain.render(alone, 0).content == content  # needs trackclicks


def test_open_pixel_before_body_end(tmp_path):
    chain = makeChain(tmp_path)
    content = b"Content-Type: text/html\r\n\r\n<p>no body element</p>\r\n"
    prepared = chain.prepare(message(content, ("trackopens",)), content)
    out = html(chain.render(prepared, 0).content)
    assert re.search(
        rf'<img src="{PUBLIC}/o/[A-Za-z0-9_-]+\.gif" width="1" height="1"[^>]*></body>', out
    )


def test_hosted_images_collapse_related(tmp_path):
    chain = makeChain(tmp_path)
    content = fixture("applemail")
    prepared = chain.prepare(message(content, ("hostedimages",)), content)
    assert prepared.shared
    out = chain.render(prepared, None).content
    parsed = email.message_from_bytes(out, policy=email.policy.default)
    assert [p.get_content_type() for p in parsed.walk()] == [
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]
    image = re.search(rf'src="{PUBLIC}/i/([0-9a-f]{{64}})\.png"', html(out))
    assert image
    stored = tmp_path / "images" / image.group(1)[:2] / f"{image.group(1)}.png"
    assert stored.read_bytes().startswith(b"\x89PNG")


def test_trackbounces(tmp_path):
    chain = makeChain(tmp_path)
    content = fixture("single-plain")
    prepared = chain.prepare(message(content, ("trackbounces",)), content)
    assert not prepared.shared
    copy = chain.render(prepared, 1)
    local, _, domain = copy.sender.partition("@")
    assert domain == "bounces.example.net"
    assert signer.readBounce(local).recipient == 1
    assert copy.content == content  # only the envelope changes
    null = chain.prepare(message(content, ("trackbounces",), sender=""), content)
    assert chain.render(null, 0).sender == ""


def test_cache_shares_html_work_across_messages(tmp_path):
    chain = makeChain(tmp_path)
    content = fixture("newsletter")
    other = content.replace(b"subscriber@example.net", b"someone@example.net")
    chain.prepare(message(content, ALL), content)
    misses = chain.cache.misses
    second = chain.prepare(message(other, ALL, qid="0190F3A1B2C3D4E5F608"), other)
    assert chain.cache.misses == misses and chain.cache.hits >= 2
    out = chain.render(second, 0).content
    assert b"someone@example.net" in out
    token = re.search(r"/o/([A-Za-z0-9_-]+)\.gif", html(out)).group(1)
    assert signer.readOpen(token).qid == "0190F3A1B2C3D4E5F608"


class Exploding(Feature):
    name = "exploding"
    order = 250

    def active(self, options):
        return True

    def prepareHTML(self, document, draft):
        document.tree  # noqa: B018
        raise RuntimeError("boom")

    def personalise(self, copy):
        raise RuntimeError("bang")


def test_failing_feature_loses_nothing(tmp_path):
    chain = makeChain(tmp_path, [*discover(), Exploding()])
    content = fixture("gmail")
    prepared = chain.prepare(message(content, ("trackclicks",)), content)
    out = chain.render(prepared, 0).content
    assert html(out) == html(content)  # the HTML part went out as it was
    assert "https://photos.example.org" not in plain(out)  # the text part was still tracked
    assert any("text/html" in w for w in prepared.warnings)
    assert any("exploding failed" in w for w in prepared.warnings)


def test_unparseable_message_goes_unchanged(tmp_path):
    chain = makeChain(tmp_path)
    content = b"this is not a header\r\n\r\nbody\r\n"
    prepared = chain.prepare(message(content, ALL), content)
    assert chain.render(prepared, 0).content == content
    assert prepared.warnings


def test_duplicate_names_refused(tmp_path):
    with pytest.raises(ValueError, match="trackclicks"):
        makeChain(tmp_path, [*discover(), *[f for f in discover() if f.name == "trackclicks"]])


def test_dkim_signature_verifies(tmp_path):
    keys, key, dns = dkimSetup(tmp_path)
    chain = makeChain(tmp_path, keys=keys)
    content = fixture("newsletter").replace(b"news@example.com", b"news@mail.example.com")
    prepared = chain.prepare(message(content, ALL), content)
    for index in (0, 1):
        out = chain.render(prepared, index).content
        assert out.startswith(b"DKIM-Signature: ")
        assert b"d=example.com" in out.split(b"\r\n\r\n")[0]  # signed by the parent domain
        assert dkim.verify(out, dnsfunc=dns)
        assert not dkim.verify(out.replace(b"Product 7", b"Product 8"), dnsfunc=dns)


def test_dkim_without_from_warns(tmp_path):
    keys, key, dns = dkimSetup(tmp_path)
    chain = makeChain(tmp_path, keys=keys)
    content = b"To: x@example.org\r\nSubject: no from\r\n\r\nhello\r\n"
    prepared = chain.prepare(message(content), content)
    assert chain.render(prepared, None).content == content
    assert any("no From" in w for w in prepared.warnings)


def test_dkim_other_domain_unsigned(tmp_path):
    keys, key, dns = dkimSetup(tmp_path)
    chain = makeChain(tmp_path, keys=keys)
    content = fixture("gmail")
    prepared = chain.prepare(message(content), content)
    assert prepared.shared and chain.render(prepared, None).content == content


def test_dkim_is_not_even_prepared_until_some_domain_has_a_key(tmp_path):
    store = DomainStore(openDatabase(tmp_path / "db.sqlite"))
    keys = DomainKeys(store, ttl=0)
    chain = makeChain(tmp_path, keys=keys)
    content = fixture("gmail")
    assert chain.active(message(content)) == ()  # nothing to do: no thread, no parse
    assert [f.name for f in makeChain(tmp_path).active(message(content))] == []
    store.add("example.com")
    assert [f.name for f in chain.active(message(content))] == ["dkim"]


def test_ambiguous_mime_leaves_every_byte_and_says_so(tmp_path):
    keys, _, dns = dkimSetup(tmp_path)
    chain = makeChain(tmp_path, keys=keys)
    content = fixture("reused-boundary")
    features = ("trackclicks", "trackopens", "inlinecss", "hostedimages")
    prepared = chain.prepare(message(content, features), content)
    assert any("ambiguous" in w and "reuses the enclosing boundary" in w for w in prepared.warnings)
    copy = chain.render(prepared, 0)
    signature, _, rest = copy.content.partition(b"\r\nFrom: ")
    assert b"From: " + rest == content  # every byte, every delimiter, as it came
    assert signature.startswith(b"DKIM-Signature: ")  # header-only features still apply
    assert dkim.verify(copy.content, dnsfunc=dns)
