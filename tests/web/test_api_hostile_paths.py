"""
Security regressions of the REST API's paths and of what a call takes
besides its fields: a path segment is percent-decoded once (Twisted's),
never twice; a path that is not an endpoint is a 404 whatever its
spelling. Through the site's real channel and resources, on the in-memory
store and L{MemoryAdministration}.
"""

from __future__ import annotations

import pytest


def test_a_suppressed_address_with_a_percent_sign_is_that_address(managed):
    # Decoded twice, /v1/suppressions/a%2541@x.test named aA@x.test.
    for email in ("a%41@x.test", "aA@x.test"):
        assert managed.request("POST", "/v1/suppressions", {"email": email}).code == 201
    shown = managed.request("GET", "/v1/suppressions/a%2541@x.test")
    assert shown.code == 200 and shown.json()["email"] == "a%41@x.test"
    deleted = managed.request("DELETE", "/v1/suppressions/a%2541@x.test")
    assert deleted.code == 200 and deleted.json()["email"] == "a%41@x.test"
    left = managed.request("GET", "/v1/suppressions").json()["suppressions"]
    assert [e["email"] for e in left] == ["aA@x.test"]


def test_a_suppressed_address_in_utf8_can_be_read_and_deleted(managed):
    assert (
        managed.request("POST", "/v1/suppressions", {"email": "jos\u00e9@b\u00fccher.test"}).code
        == 201
    )
    path = "/v1/suppressions/jos%C3%A9@b%C3%BCcher.test"
    shown = managed.request("GET", path)
    assert shown.code == 200 and shown.json()["email"] == "jos\u00e9@b\u00fccher.test"
    assert managed.request("DELETE", path).code == 200
    assert managed.request("GET", "/v1/suppressions").json()["suppressions"] == []


def test_a_login_s_name_is_decoded_once(managed):
    for name in (".", "%2e", "a%41", "aA"):
        assert managed.request("POST", "/v1/logins", {"name": name}).code == 201
    assert managed.request("GET", "/v1/logins/%252e").json()["name"] == "%2e"
    assert managed.request("GET", "/v1/logins/a%2541").json()["name"] == "a%41"
    assert managed.request("DELETE", "/v1/logins/a%2541").json() == {
        "name": "a%41",
        "deleted": True,
    }
    names = {login["name"] for login in managed.request("GET", "/v1/logins").json()["logins"]}
    assert names == {".", "%2e", "aA"}


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", ["/v1", "/%76%31", "/v1/openapi.json/x", "/v1/send/x"])
def test_what_is_no_endpoint_is_a_json_404_whatever_the_method(managed, method, path):
    # /v1 was Twisted's HTML 405 saying "I only allow the method HEAD".
    response = managed.request(method, path)
    assert response.code == 404, response.body
    assert response.header("content-type") == "application/json"


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_a_recipient_s_id_where_held_mail_is_named_whole_is_a_400_naming_it(managed, method):
    path = "/v1/messages/0123456789ABCDEF0123-1" + ("/release" if method == "POST" else "")
    answer = managed.request(method, path)
    assert answer.code == 400 and answer.json()["parameter"] == "messageid", answer.body
