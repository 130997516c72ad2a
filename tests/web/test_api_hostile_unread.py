"""
Security regressions of what an API call would leave unread: a field sent
to a call that takes none (C{POST /v1/logins/NAME/password {"password":
"mine"}} made a random password all the same and answered 200), a body
that is not JSON there, or a query parameter where no call takes one
(C{GET /v1/queue?login=app} listed the whole queue) is a 400 naming it.
"""

from __future__ import annotations

import json

import pytest

from smtpeter.testing import serveHTTP

QID = "0123456789ABCDEF0123"
HOOK = "https://93.184.216.34/hook"


@pytest.fixture
def things(managed):
    assert managed.request("POST", "/v1/logins", {"name": "app"}).code == 201
    assert managed.request("POST", "/v1/tokens", {"name": "t"}).code == 201
    assert managed.request("POST", "/v1/webhooks", {"url": HOOK, "events": ["click"]}).code == 201
    assert managed.request("POST", "/v1/suppressions", {"email": "a@x.test"}).code == 201
    return managed


BODYLESS = [
    ("POST", "/v1/logins/app/password", "password"),
    ("DELETE", "/v1/logins/app", "name"),
    ("DELETE", "/v1/tokens/t", "force"),
    ("DELETE", "/v1/webhooks/1", "url"),
    ("POST", "/v1/webhooks/1/enable", "events"),
    ("POST", "/v1/webhooks/1/test", "event"),
    ("POST", f"/v1/queue/{QID}/retry", "when"),
    ("DELETE", f"/v1/queue/{QID}", "dsn"),
    ("POST", f"/v1/messages/{QID}/release", "recipients"),
    ("DELETE", f"/v1/messages/{QID}", "dsn"),
    ("DELETE", "/v1/suppressions/a@x.test", "login"),
]


@pytest.mark.parametrize(("method", "path", "field"), BODYLESS)
def test_a_field_sent_to_a_call_that_takes_none_is_a_400_naming_it(things, method, path, field):
    answer = things.request(method, path, {field: "x"})
    assert answer.code == 400, answer.body
    assert answer.json()["parameter"] == field
    assert things.request(method, path, raw=b"not json").code == 400
    # Nothing was done: the login, token, webhook and suppression are all there.
    assert things.request("GET", "/v1/logins/app").code == 200
    assert [t["name"] for t in things.request("GET", "/v1/tokens").json()["tokens"]] == ["t"]
    assert len(things.request("GET", "/v1/webhooks").json()["webhooks"]) == 1
    assert things.request("GET", "/v1/suppressions/a@x.test").code == 200


@pytest.mark.parametrize(("method", "path", "field"), BODYLESS)
def test_an_empty_object_or_no_body_is_still_taken(things, method, path, field):
    answer = things.request(method, path, {})
    assert answer.code in (200, 202, 404, 409), answer.body


@pytest.mark.parametrize(
    "path",
    [
        "/v1/queue?login=app",
        "/v1/nodes?x=1",
        "/v1/logins?limit=5",
        "/v1/logins/app?fields=name",
        "/v1/tokens?scope=admin",
        "/v1/webhooks?enabled=true",
        "/v1/domains?x",
    ],
)
def test_a_parameter_where_no_call_takes_one_is_a_400_naming_it(things, path):
    answer = things.request("GET", path)
    assert answer.code == 400, answer.body
    assert answer.json()["parameter"] == path.partition("?")[2].partition("=")[0]


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("good_first", [True, False])
def test_two_authorization_fields_are_a_400_whichever_comes_first(managed, method, good_first):
    # Twisted read the last; a proxy in front that checks the first would
    # let "Bearer spt_bad, then the admin's" through as the admin.
    fields = [f"Bearer {managed.token}", "Bearer spt_bad"]
    if not good_first:
        fields.reverse()
    headers = {"Authorization": fields[0], "authorization": fields[1]}
    body = b'{"email": "a@x.test"}' if method == "POST" else b""
    if body:
        headers["Content-Type"] = "application/json"
    answer = serveHTTP(managed.site, method, "/v1/suppressions", headers, body, clock=managed.clock)
    assert answer is not None and answer.code == 400, answer
    assert json.loads(answer.body)["error"] == "Authorization: give it once"
    assert managed.request("GET", "/v1/suppressions").json()["suppressions"] == []
