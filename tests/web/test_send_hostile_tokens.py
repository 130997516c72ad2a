"""
Send tokens against confusion: a send token outlives its login's deletion
(tokens are tied to the login's name), and must not come back to life
when a new login is made with that name (which may be somebody else's).
"""

from __future__ import annotations

from .conftest import SendingSite

SIMPLE = {"from": "Shop <news@example.com>", "to": "Ann <ann@example.org>", "text": "hi"}


def test_a_token_of_a_deleted_login_does_not_send_as_a_new_login_of_its_name(gw: SendingSite):
    gw.post(SIMPLE)
    # the login is deleted and another made with its name, after the token
    gw.clock.advance(60)
    gw.store.logins.add("app", "another password")
    gw.login(created=gw.clock.seconds())
    answer = gw.post(SIMPLE, code=403)
    assert "'app'" in answer["error"] and "deleted" in answer["error"]
    assert len(gw.queue.queued) == 1
    # a token made for the new login sends
    fresh = gw.store.addToken("fresh", "send", "app")
    gw.post(SIMPLE, token=fresh)
    assert len(gw.queue.queued) == 2
