"""
Security regression (issue 33, item 12): bad input to the REST API gets a
400 naming what is wrong (or a 404), never a 500; a path that does not exist
is a 404 whatever the method; API answers name API fields, never CLI
options; of many concurrent deletes of one login, exactly one succeeds.
"""

from __future__ import annotations

import http.client
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from smtpeter.store._events import TYPES

from .conftest import Client


@pytest.fixture
def admin(gateway):
    made = gateway.cli("token", "create", "ops", "--scope", "admin", "--json").stdout
    return Client(gateway, json.loads(made)["token"])


def raw(gateway, method: str, path: str, body: bytes | None, token: str | None = None):
    """The status and JSON body of a request sent as it is (no OpenAPI check)."""
    connection = http.client.HTTPConnection("127.0.0.1", gateway.httpPort, timeout=30)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection.request(method, path, body, headers)
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    return response.status, json.loads(payload)


DAYS = [b"1e308", b"1e400", str(2**70).encode(), b"9" * 4000, b"9" * 5000, b"-1", b"NaN"]


def test_bad_bodies_and_values_are_400s_naming_the_field(gateway, admin):
    # Nested too deep for the parser: said so, not a RecursionError.
    for body in (b"[" * 100_000, b'{"a":' * 5000 + b"1" + b"}" * 5000):
        code, answer = raw(gateway, "POST", "/v1/suppressions", body, admin.token)
        assert code == 400 and "deep" in answer["error"], answer
    for days in DAYS:
        body = b'{"email":"n@d.test","days":' + days + b"}"
        code, answer = raw(gateway, "POST", "/v1/suppressions", body, admin.token)
        assert code == 400, (days[:20], answer)
        if days != b"9" * 5000:  # not a JSON number Python reads
            assert answer["parameter"] == "days", answer
    gateway.createLogin("NAME")
    cases = [
        ("POST", "/v1/domains", {"domain": "bad domain"}, "domain"),
        ("POST", "/v1/domains", {"domain": ""}, "domain"),
        ("POST", "/v1/domains", {"domain": "ok.test", "selector": "a b"}, "selector"),
        ("POST", "/v1/domains", {"selector": None}, "domain"),
        ("POST", "/v1/domains", {"domain": "x" * 300 + ".test"}, "domain"),
        ("POST", "/v1/domains", {"domain": "ok.test", "surprise": 1}, "surprise"),
        ("DELETE", "/v1/domains/0", None, "domain"),
        ("POST", "/v1/domains/0/rotate", {"selector": None}, "domain"),
        ("PATCH", "/v1/logins/NAME", {"public_url": "ftp://x"}, "public_url"),
        ("PATCH", "/v1/logins/NAME", {"features": ["nonsense"]}, "features"),
        ("POST", "/v1/logins", {"name": "a b"}, "name"),
        ("POST", "/v1/tokens", {"name": "t", "scope": "root"}, "scope"),
        ("POST", "/v1/webhooks", {"url": "https://hooks.example.com/"}, "events"),
        ("POST", "/v1/suppressions", {"email": "n@d.test", "reason": ""}, "reason"),
        ("POST", "/v1/suppressions", {"email": "x" * 400 + "@d.test"}, "email"),
    ]
    for method, path, body, field in cases:
        code, answer, _ = admin.call(method, path, body)
        assert (code, answer.get("parameter")) == (400, field), (method, path, body, answer)
    code, answer, _ = admin.call("POST", "/v1/domains", {"domain": "good.test"})
    assert code == 201
    code, answer, _ = admin.call("POST", "/v1/domains/good.test/rotate", {"selector": "a b"})
    assert (code, answer["parameter"]) == (400, "selector")
    # No answer names a command-line option.
    code, answer, _ = admin.call("POST", "/v1/webhooks", {"url": "https://h.example.com/"})
    assert "--" not in answer["error"] and answer["error"].startswith("events: ")


def test_what_schemathesis_and_probing_found_is_400_too(gateway, admin):
    gateway.createLogin("NAME")
    surrogate = [
        ("POST", "/v1/logins", b'{"name":"\\ud800"}', "name"),
        ("POST", "/v1/tokens", b'{"name":"\\udfff"}', "name"),
        ("POST", "/v1/suppressions", b'{"email":"a@b.test","reason":"\\ud800"}', "reason"),
        ("PATCH", "/v1/logins/NAME", b'{"features":["\\ud800"]}', "features"),
        ("POST", "/v1/webhooks", b'{"url":"http://[::1/","events":["click"]}', "url"),
        ("POST", "/v1/webhooks", b'{"url":"http://a.test:99999/","events":["click"]}', "url"),
        ("PATCH", "/v1/logins/NAME", b'{"public_url":"http://a.test:99999/"}', "public_url"),
        ("PATCH", "/v1/logins/NAME", b'{"public_url":"http://[::1/"}', "public_url"),
        ("POST", "/v1/logins", b'{"name":"x\\u0000y"}', "name"),
    ]
    for method, path, body, field in surrogate:
        code, answer = raw(gateway, method, path, body, admin.token)
        assert (code, answer.get("parameter")) == (400, field), (method, path, body, answer)
    for query in ("start=1" + "0" * 400, "start=1969-12-31", "end=253402300800"):
        code, answer = raw(gateway, "GET", f"/v1/events?{query}", None, admin.token)
        assert code == 400 and answer["parameter"] == query.split("=")[0], answer
    code, answer = raw(gateway, "GET", "/v1/stats?start=1000000000000000", None, admin.token)
    assert code == 400 and answer["parameter"] == "start", answer
    for query, name in (
        ("/v1/stats?by=", "by"),
        ("/v1/logfiles/open?date=2026-01-05&format=", "format"),
    ):
        code, answer = raw(gateway, "GET", query, None, admin.token)
        assert code == 400 and answer["parameter"] == name, answer


def test_what_the_red_team_found_is_a_4xx_naming_the_field_or_a_404(gateway, admin):
    gateway.createLogin("NAME")
    named = [
        ("POST", "/v1/tokens", b'{"name":"\\ud800"}', "name"),
        ("POST", "/v1/suppressions", b'{"email":"\\ud800"}', "email"),
        ("POST", "/v1/suppressions", b'{"email":"a\\ud800@b.test"}', "email"),
        ("POST", "/v1/domains", b'{"domain":"\\ud800.test"}', "domain"),
        ("POST", "/v1/webhooks", b'{"url":"http://\\ud800/","events":["click"]}', "url"),
        ("POST", "/v1/webhooks", b'{"url":"https://a.test/\\ud800","events":["click"]}', "url"),
        ("PATCH", "/v1/logins/NAME", b'{"public_url":"http://a.test/\\ud800"}', "public_url"),
        ("PATCH", "/v1/logins/NAME", b'{"public_url":"http://[::1"}', "public_url"),
        ("POST", "/v1/domains", b'{"domain":"xn--"}', "domain"),
        ("POST", "/v1/domains", b'{"domain":"a..b"}', "domain"),
        ("POST", "/v1/domains", b'{"domain":"' + b"a" * 300 + b'"}', "domain"),
    ]
    for unknown in ("%00", "-1", "1e5", "a%2Fb"):
        named.append(("DELETE", f"/v1/domains/{unknown}", None, "domain"))
        named.append(("POST", f"/v1/domains/{unknown}/rotate", b"{}", "domain"))
    for method, path, body, field in named:
        code, answer = raw(gateway, method, path, body, admin.token)
        assert (code, answer.get("parameter")) == (400, field), (method, path, body, answer)
    for days in (b"NaN", b"Infinity", b"-Infinity"):
        body = b'{"email":"n@d.test","days":' + days + b"}"
        code, answer = raw(gateway, "POST", "/v1/suppressions", body, admin.token)
        assert code == 400 and answer["parameter"] == "days", answer
        assert answer["error"] == f"days: {days.decode()} is not a JSON number", answer
    for action in ("test", "enable"):
        code, answer = raw(gateway, "POST", f"/v1/webhooks/{'9' * 30}/{action}", b"{}", admin.token)
        assert code == 404 and "no such webhook" in answer["error"], answer


def test_ids_beyond_sqlite_and_unknown_paths_are_404s(gateway, admin):
    for path in ("/v1/webhooks/99999999999999999999999", "/v1/webhooks/9223372036854775808"):
        code, answer, _ = admin.call("DELETE", path)
        assert code == 404 and "no such webhook" in answer["error"], answer
    code, answer = raw(gateway, "DELETE", "/v1/webhooks/%C2%B2", None, admin.token)
    assert code == 404, answer
    for method in ("POST", "PUT", "DELETE", "PATCH", "GET"):
        for path in ("/nothing", "/v1/nothing", "/v1/", "/v1/nothing/deeper"):
            code, answer = raw(gateway, method, path, b"{}", admin.token)
            assert code == 404, (method, path, answer)


def test_every_kind_of_log_file_comes_as_csv(gateway, admin):
    for kind in TYPES:  # found by schemathesis: warning had no CSV columns (500)
        connection = http.client.HTTPConnection("127.0.0.1", gateway.httpPort, timeout=30)
        connection.request(
            "GET",
            f"/v1/logfiles/{kind}?date=2504-06-15&format=csv",
            headers={"Authorization": f"Bearer {admin.token}"},
        )
        response = connection.getresponse()
        text = response.read().decode()
        connection.close()
        assert response.status == 200, (kind, text)
        assert text.startswith("id,time,type,messageid,email,tags,")


def test_the_cli_names_its_options_where_the_api_names_fields(gateway):
    done = gateway.cli("webhook", "add", "https://hooks.example.com/", check=False)
    assert done.returncode == 1 and done.stderr.startswith("smtpeter: --event: say which events")
    done = gateway.cli("suppression", "add", "a@b.test", "--days", "1e308", check=False)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "--days" in done.stderr
    done = gateway.cli("webhook", "delete", "99999999999999999999999", check=False)
    assert done.returncode == 1 and done.stderr.startswith("smtpeter: no webhook")
    done = gateway.cli("domain", "add", "bad domain", check=False)
    assert done.returncode == 1 and "is not a domain name" in done.stderr


def test_of_twenty_concurrent_deletes_of_a_login_exactly_one_succeeds(gateway, admin):
    for round in range(3):
        name = f"victim{round}"
        gateway.createLogin(name)
        with ThreadPoolExecutor(20) as pool:
            paths = [f"/v1/logins/{name}"] * 20
            codes = list(pool.map(lambda p: raw(gateway, "DELETE", p, None, admin.token)[0], paths))
        assert sorted(codes) == [200] + [404] * 19, codes


def status(port: int, method: str, path: str, body: bytes = b"{}") -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request(method, path, body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status


def test_a_path_that_does_not_exist_is_404_for_every_method_on_every_listener(gateway):
    web = [
        "/healthz/x",
        "/healthz/x/y",
        "/c/junk",
        "/c/",
        "/c",
        "/c/junk/deeper",
        "/o/junk.gif",
        "/o/junk",
        "/o/",
        "/i/junk.png",
        "/i/",
        "/i/junk/deeper",
        "/",
        "/nothing/%00/..",
    ]
    dashboard = ["/nothing", "/static/x.css", "/logins/x/y/z/w", "/login/x", "/logout/x"]
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        for path in web:
            assert status(gateway.httpPort, method, path) == 404, (method, path)
        for path in dashboard:
            assert status(gateway.dashboardPort, method, path) == 404, (method, path)
    # Paths that exist still say which methods they take.
    assert status(gateway.httpPort, "GET", "/healthz") == 200
    assert status(gateway.httpPort, "POST", "/healthz") == 405
    assert status(gateway.dashboardPort, "PUT", "/login") == 405


def test_api_answers_name_api_calls_where_the_cli_names_its_commands(gateway, admin):
    gateway.createLogin("NAME")
    reader = json.loads(gateway.cli("token", "create", "r", "--json").stdout)["token"]
    assert admin.call("POST", "/v1/domains", {"domain": "ok.test"})[0] == 201
    cases = [
        ("DELETE", "/v1/logins/nosuch", None, 404, "see GET /v1/logins"),
        ("DELETE", "/v1/tokens/nosuch", None, 404, "see GET /v1/tokens"),
        ("DELETE", "/v1/webhooks/77", None, 404, "see GET /v1/webhooks"),
        ("DELETE", "/v1/domains/nosuch.test", None, 404, "see GET /v1/domains"),
        ("DELETE", "/v1/queue/0123456789ABCDEF0123", None, 404, "see GET /v1/queue"),
        ("POST", "/v1/domains", {"domain": "ok.test"}, 409, "POST /v1/domains/ok.test/rotate"),
    ]
    for method, path, body, code, hint in cases:
        answer = admin.call(method, path, body)
        assert answer[0] == code and hint in answer[1]["error"], (path, answer[:2])
        assert "smtpeter " not in answer[1]["error"] and "--" not in answer[1]["error"]
    code, answer = raw(gateway, "POST", "/v1/logins", b'{"name":"x"}', reader)
    assert code == 403 and "scope" in answer["error"], answer
    assert "smtpeter " not in answer["error"] and "--" not in answer["error"]
    # The command line keeps naming its commands.
    for args, hint in [
        (("login", "delete", "nosuch"), "; see 'smtpeter login list'"),
        (("token", "delete", "nosuch"), "; see 'smtpeter token list'"),
        (("domain", "add", "ok.test"), ": use 'smtpeter domain rotate ok.test' for a new one"),
    ]:
        done = gateway.cli(*args, check=False)
        assert done.returncode == 1 and done.stderr.rstrip().endswith(hint), done.stderr
