"""
Send tokens against confusion: a send token outlives its login's deletion
(tokens are tied to the login's name), and must not come back to life
when a new login is made with that name (which may be somebody else's).
"""

from __future__ import annotations

import pytest
from twisted.web.test.requesthelper import DummyRequest

from smtpeter.web._resources import loggable

from .conftest import SendingSite, rawRequest

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


def test_no_100_continue_before_the_token_is_known(gw: SendingSite):
    """A client that waits for 100 Continue sends no body for a token that is refused."""
    for token, answer in (("spt_unknown", b"401"), (gw.readToken, b"403")):
        transport = rawRequest(
            gw.site,
            b"POST /v1/send HTTP/1.1\r\nHost: gw\r\nExpect: 100-continue\r\n"
            b"Authorization: Bearer %s\r\nContent-Length: 1000\r\n\r\n" % token.encode(),
        )
        assert transport.value().startswith(b"HTTP/1.1 " + answer), transport.value()
        assert b"100 Continue" not in transport.value()
    # a good token is told to go on, once
    transport = rawRequest(
        gw.site,
        b"POST /v1/send HTTP/1.1\r\nHost: gw\r\nExpect: 100-continue\r\n"
        b"Authorization: Bearer %s\r\nContent-Length: 1000\r\n\r\n" % gw.token.encode(),
    )
    assert transport.value() == b"HTTP/1.1 100 Continue\r\n\r\n"


@pytest.mark.parametrize(
    "query",
    [
        b"access_token=spt_secret",
        b"access%5Ftoken=spt_secret",
        b"%61ccess_token=spt_secret&x=1",
        b"x=1&access%5ftoken=spt_secret",
    ],
)
def test_a_token_in_the_query_is_hidden_from_logs_however_it_is_spelt(query):
    """Twisted decodes the query's names, so %5F is an access_token as well."""
    request = DummyRequest([b"v1", b"send"])
    request.uri = b"/v1/send?" + query
    assert b"spt_secret" not in loggable(request)
    assert loggable(request).startswith(b"/v1/send?")
