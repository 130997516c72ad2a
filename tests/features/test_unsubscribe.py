"""The unsubscribe feature: List-Unsubscribe and List-Unsubscribe-Post per recipient, DKIM-signed."""

import email
import email.policy
import re

import dkim

from smtpeter.features import TokenSigner, UnsubscribeId
from smtpeter.features._dkimsign import splitMessage

from ..conftest import fixture
from .conftest import PUBLIC, QID, SECRET, dkimSetup, makeChain, message

signer = TokenSigner(SECRET)
_URL = re.compile(r"<(https://[^>]+)>")


def parsed(content: bytes):
    return email.message_from_bytes(content, policy=email.policy.default)


def test_each_copy_gets_its_own_one_click_url(tmp_path):
    chain = makeChain(tmp_path)
    content = fixture("single-plain")
    prepared = chain.prepare(message(content, ("unsubscribe",)), content)
    assert not prepared.shared  # one token per recipient
    tokens = []
    for index, address in enumerate(("first@example.org", "second@example.org")):
        copy = parsed(chain.render(prepared, index).content)
        assert copy["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        [url] = _URL.findall(str(copy["List-Unsubscribe"]))
        assert url.startswith(f"{PUBLIC}/u/")
        token = url.rpartition("/")[2]
        assert address not in url and "example.org" not in url  # sealed, not shown
        assert signer.readUnsubscribe(token) == UnsubscribeId(QID, index, "test", address)
        tokens.append(token)
    assert tokens[0] != tokens[1]
    assert "mailto" not in str(copy["List-Unsubscribe"])
    body = chain.render(prepared, 0).content.partition(b"\r\n\r\n")[2]
    assert body == content.partition(b"\r\n\r\n")[2]  # only the header changes


def test_the_senders_mailto_is_listed_after_the_url(tmp_path):
    chain = makeChain(tmp_path)
    content = fixture("single-plain")
    extra = {"unsubscribe-mailto": "leave@example.com"}
    prepared = chain.prepare(message(content, ("unsubscribe",), extra=extra), content)
    value = str(parsed(chain.render(prepared, 1).content)["List-Unsubscribe"])
    assert re.fullmatch(
        rf"<{re.escape(PUBLIC)}/u/[A-Za-z0-9_-]+>, <mailto:leave@example\.com>", value
    )


def test_a_message_with_its_own_list_unsubscribe_keeps_it(tmp_path):
    chain = makeChain(tmp_path)
    own = (
        b"List-Unsubscribe: <https://lists.example.com/leave?id=7>\r\n"
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    )
    content = own + fixture("single-plain")
    prepared = chain.prepare(message(content, ("unsubscribe",)), content)
    out = chain.render(prepared, 0).content
    assert out == content
    fields, _ = splitMessage(out)
    assert [n.lower() for n, _ in fields].count(b"list-unsubscribe") == 1
    # Without the Post field of its own too: nothing is added.
    content = own.split(b"\r\n")[0] + b"\r\n" + fixture("single-plain")
    prepared = chain.prepare(message(content, ("unsubscribe",)), content)
    assert chain.render(prepared, 0).content == content


def test_off_adds_nothing(tmp_path):
    chain = makeChain(tmp_path)
    content = fixture("single-plain")
    prepared = chain.prepare(message(content, ("trackbounces",)), content)
    assert b"List-Unsubscribe" not in chain.render(prepared, 0).content


def test_the_login_click_domain_is_used(tmp_path):
    chain = makeChain(tmp_path)
    content = fixture("single-plain")
    queued = message(content, ("unsubscribe",))
    queued = type(queued)(
        queued.qid,
        queued.envelope,
        type(queued.options)(queued.options.features, (), "test", {}, "https://links.example.com/"),
        0.0,
        content,
    )
    copy = parsed(chain.render(chain.prepare(queued, content), 0).content)
    assert str(copy["List-Unsubscribe"]).startswith("<https://links.example.com/u/")


def test_dkim_covers_both_fields(tmp_path):
    keys, _, dns = dkimSetup(tmp_path)
    chain = makeChain(tmp_path, keys=keys)
    content = fixture("newsletter").replace(b"news@example.com", b"news@mail.example.com")
    content = re.sub(rb"List-Unsubscribe: [^\r]*\r\n", b"", content)  # its own, taken out
    extra = {"unsubscribe-mailto": "leave@example.com"}
    features = ("unsubscribe", "trackclicks", "trackopens", "trackbounces")
    prepared = chain.prepare(message(content, features, extra=extra), content)
    out = chain.render(prepared, 0).content
    assert out.startswith(b"DKIM-Signature: ")  # signed after the fields went in
    assert dkim.verify(out, dnsfunc=dns)
    signature = parsed(out)["DKIM-Signature"]
    names = re.search(r"h=([^;]+);", re.sub(r"\s+", "", str(signature))).group(1).split(":")
    assert "list-unsubscribe" in names and "list-unsubscribe-post" in names
    # Over-signed: neither can be added, or changed, without breaking the signature.
    added = out.replace(b"\r\n\r\n", b"\r\nList-Unsubscribe: <https://evil.example/u/x>\r\n\r\n", 1)
    assert not dkim.verify(added, dnsfunc=dns)
    changed = out.replace(b"List-Unsubscribe=One-Click", b"List-Unsubscribe=Two-Clicks")
    assert not dkim.verify(changed, dnsfunc=dns)
