"""The dashboard's signed session cookies and form tokens."""

from __future__ import annotations

from twisted.internet.task import Clock

from smtpeter.dashboard._sessions import LIFETIME, Sessions


def sessions(secret: bytes = b"s" * 32) -> Sessions:
    clock = Clock()
    clock.advance(1_000_000)
    return Sessions(secret, clock)


def test_a_session_reads_back_until_it_expires():
    s = sessions()
    cookie = s.issue("boss.with.dots", 3)
    signed = s.read(cookie)
    assert (signed.name, signed.generation) == ("boss.with.dots", 3)
    assert signed.expires == 1_000_000 + LIFETIME
    s.clock.advance(LIFETIME - 1)
    assert s.read(cookie) == signed
    s.clock.advance(1)
    assert s.read(cookie) is None


def test_every_session_names_a_row_of_its_own():
    s = sessions()
    one, two = s.read(s.issue("boss", 1)), s.read(s.issue("boss", 1))
    assert one.id != two.id and len(one.id) == 32


def test_a_changed_or_foreign_cookie_is_no_session():
    s = sessions()
    cookie = s.issue("viewer", 1)
    name, generation, expiry, id, signature = cookie.split(".")
    for forged in (
        f"{name}.{generation}.{int(expiry) + 3600}.{id}.{signature}",
        f"{name}.2.{expiry}.{id}.{signature}",
        f"Ym9zcw.{generation}.{expiry}.{id}.{signature}",  # "boss"
        f"{name}.{generation}.{expiry}.{'0' * 32}.{signature}",  # another session's row
        f"{name}.{generation}.{expiry}.{signature}",  # as cookies were before rows
        cookie[:-1] + ("0" if cookie[-1] != "0" else "1"),
        "",
        "a.b",
        "....",
    ):
        assert s.read(forged) is None, forged
    assert sessions(b"t" * 32).read(cookie) is None  # another gateway's secret


def test_form_tokens_belong_to_their_session():
    s = sessions()
    one, two = s.issue("boss", 1), s.issue("other", 1)
    assert s.checkCSRF(one, s.csrf(one))
    assert not s.checkCSRF(one, s.csrf(two))
    assert not s.checkCSRF("", s.csrf(""))
    assert not s.checkCSRF(one, "")
