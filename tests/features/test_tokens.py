import base64
import hashlib
import hmac
import re
import struct

import pytest

from smtpeter.features import TokenSigner, TrackingId, UnsubscribeId, loadSecret

QID = "0190F3A1B2C3D4E5F607"
signer = TokenSigner(b"k" * 32)


def test_roundtrips():
    assert signer.readClick(signer.click(QID, 7, 42)) == TrackingId(QID, 7, 42)
    assert signer.readOpen(signer.open(QID, 3)) == TrackingId(QID, 3)
    local = signer.bounce(QID, 99)
    assert local == local.lower() and len(local) <= 64
    assert signer.readBounce(local) == TrackingId(QID, 99)
    assert signer.readBounce(local.upper()) == TrackingId(QID, 99)  # case folded on the way


def test_every_single_character_change_is_refused():
    token = signer.click(QID, 1, 2)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for i, c in enumerate(token):
        for other in alphabet[::7]:
            if other != c:
                changed = token[:i] + other + token[i + 1 :]
                result = signer.readClick(changed)
                # Base64's last character carries spare bits: a change there
                # may decode to the same bytes, and so to the same identity.
                assert result is None or changed.rstrip("=")[:-1] == token[:-1]


@pytest.mark.parametrize("bad", ["", "x", "!!!!", "A" * 38, "A" * 500])
def test_garbage_is_refused(bad):
    assert signer.readClick(bad) is None
    assert signer.readOpen(bad) is None
    assert signer.readBounce(bad) is None


def test_truncated_and_kinds_apart():
    click = signer.click(QID, 1, 2)
    assert signer.readClick(click[:-1]) is None
    assert signer.readOpen(signer.open(QID, 1)[:-2]) is None
    assert signer.readOpen(click) is None
    assert signer.readClick(signer.open(QID, 1)) is None


def test_other_secret_refused():
    assert TokenSigner(b"j" * 32).readClick(signer.click(QID, 1, 2)) is None


def test_secret_made_once(tmp_path):
    path = tmp_path / "secret.key"
    first = loadSecret(path)
    assert len(first) == 32 and loadSecret(path) == first
    assert path.stat().st_mode & 0o777 == 0o600
    path.write_bytes(b"short")
    with pytest.raises(ValueError, match="delete it"):
        loadSecret(path)


def _hmacToken(kind: bytes, payload: bytes, size: int) -> bytes:
    """An identifier as versions before BLAKE2b made it: HMAC-SHA256 of kind and payload."""
    return payload + hmac.new(b"k" * 32, kind + payload, hashlib.sha256).digest()[:size]


def test_identifiers_signed_with_hmac_before_blake2b_still_verify():
    qid = bytes.fromhex(QID)
    click = _hmacToken(b"c", struct.pack(">10sIH", qid, 7, 42), 12)
    opened = _hmacToken(b"o", struct.pack(">10sI", qid, 3), 12)
    bounce = _hmacToken(b"b", struct.pack(">10sI", qid, 99), 11)
    b64 = lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()  # noqa: E731
    assert signer.readClick(b64(click)) == TrackingId(QID, 7, 42)
    assert signer.readOpen(b64(opened)) == TrackingId(QID, 3)
    assert signer.readBounce("b" + base64.b32encode(bounce).decode().lower()) == TrackingId(QID, 99)
    # ... but only for their own kind, and only under their own secret.
    assert signer.readOpen(b64(click)) is None
    assert TokenSigner(b"j" * 32).readClick(b64(click)) is None


def test_new_identifiers_carry_keyed_blake2b():
    raw = base64.urlsafe_b64decode(signer.click(QID, 7, 42) + "==")
    payload = struct.pack(">10sIH", bytes.fromhex(QID), 7, 42)
    mac = hashlib.blake2b(payload, key=b"k" * 32, digest_size=12, person=b"smtpeter c").digest()
    assert raw == payload + mac


def test_a_secret_longer_than_blake2b_keys_still_signs():
    long = TokenSigner(b"s" * 100)
    assert long.readClick(long.click(QID, 1, 2)) == TrackingId(QID, 1, 2)
    assert TokenSigner(b"s" * 99).readClick(long.click(QID, 1, 2)) is None


def test_unsubscribe_tokens_seal_the_address_and_the_login():
    token = signer.unsubscribe(QID, 5, "app", "Reader@Example.org")
    assert "Reader" not in token and "app" not in token
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    found = signer.readUnsubscribe(token)
    assert found == UnsubscribeId(QID, 5, "app", "Reader@Example.org")
    assert "Reader" not in repr(found)  # the address stays out of logs too
    assert signer.unsubscribe(QID, 5, "app", "Reader@Example.org") == token  # stable
    assert signer.readUnsubscribe(signer.unsubscribe(QID, 0, None, "a@b.io")) == UnsubscribeId(
        QID, 0, None, "a@b.io"
    )
    longest = signer.unsubscribe(QID, 1, "l" * 254, "x" * 64 + "@" + "d" * 189 + ".io")
    assert signer.readUnsubscribe(longest).login == "l" * 254


def test_unsubscribe_token_lengths_barely_hint_at_the_address():
    short = signer.unsubscribe(QID, 1, "app", "a@b.io")
    longer = signer.unsubscribe(QID, 1, "app", "abcdefg@b.io")
    assert len(short) == len(longer)


def test_forged_and_replayed_unsubscribe_tokens_are_refused():
    token = signer.unsubscribe(QID, 5, "app", "reader@example.org")
    for i in range(0, len(token) - 1, 3):
        changed = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
        assert signer.readUnsubscribe(changed) is None
    assert TokenSigner(b"other" * 8).readUnsubscribe(token) is None  # another gateway's secret
    # A click, open or bounce token is no unsubscribe token, nor the reverse.
    assert signer.readUnsubscribe(signer.click(QID, 5, 0)) is None
    assert signer.readUnsubscribe(signer.open(QID, 5)) is None
    assert signer.readUnsubscribe(signer.bounce(QID, 5)[1:]) is None
    assert signer.readClick(token) is None and signer.readOpen(token) is None
    for bad in ("", "x", "!!!!", "A" * 38, "A" * 500, "A" * 5000, token + "A" * 1000):
        assert signer.readUnsubscribe(bad) is None
