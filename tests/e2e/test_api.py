"""
The REST API through the real gateway, with events made by real mail: each
endpoint, its 401 and 400 answers, pagination, log files in JSON and CSV,
and a generated test of the events endpoint against the OpenAPI document.
"""

from __future__ import annotations

import csv
import http.client
import io
import json
import re
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smtpeter.web._openapi import document

from .conftest import DOCS, _matches, compose, html, send


class API:
    def __init__(self, gateway, token: str | None) -> None:
        self.gateway = gateway
        self.token = token

    def get(self, path: str, token: str | None = "default"):
        token = self.token if token == "default" else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        connection = http.client.HTTPConnection("127.0.0.1", self.gateway.httpPort, timeout=10)
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        connection.close()
        return response, body

    def json(self, path: str, status: int = 200, **kw):
        response, body = self.get(path, **kw)
        assert response.status == status, (path, body)
        assert response.getheader("content-type") == "application/json"
        return json.loads(body)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One gateway with two delivered messages and a click, shared by the tests here."""
    from smtpeter.testing import SinkServer

    from ..conftest import Gateway

    sink = SinkServer().start()
    gateway = Gateway(
        tmp_path_factory.mktemp("api") / "data", sink.port, ["--public-url", "http://gw.test:8080"]
    ).start()
    password = gateway.createLogin("app", "trackclicks")
    send(gateway, "app", password, compose({"X-Smtpeter-Tags": "spring"}))
    send(
        gateway,
        "app",
        password,
        compose({"X-Smtpeter-Tags": "autumn"}, to="two@example.org"),
        recipients=("two@example.org",),
    )
    # Two workers may deliver them in either order: the spring one went to reader@.
    [first] = [m for m in sink.wait(2) if m.recipients == ["reader@example.org"]]
    gateway.waitForLog("delivery <two@example.org>", "delivery <reader@example.org>")
    [link] = re.findall(r'href="http://gw\.test:8080(/c/[^"]+/deal)"', html(first.data))
    token = json.loads(gateway.cli("token", "create", "tests", "--json").stdout)
    assert set(token) == {"name", "token", "scope", "login"} and token["name"] == "tests"
    assert token["login"] is None  # only a send token has one
    assert token["scope"] == "read"  # the default: tokens read unless made admin
    api = API(gateway, token["token"])
    assert api.get(link, token=None)[0].status == 302
    # Two attempts, two deliveries and the click, each recorded by the
    # writer of the worker that saw it (either worker answers).
    deadline = time.monotonic() + 10
    while len(api.json("/v1/events")["events"]) < 5:
        assert time.monotonic() < deadline, api.json("/v1/events")["events"]
        time.sleep(0.1)
    yield api
    gateway.stop()
    sink.stop()


def test_no_token_or_a_wrong_one_is_401_with_a_json_error(world):
    for token in (None, "spt_wrong", "garbage"):
        for path in ("/v1/events", "/v1/messages/0123456789ABCDEF0123", "/v1/logfiles/click"):
            body = world.json(path, 401, token=token)
            assert "token" in body["error"]


def test_token_list_and_delete(world):
    gateway = world.gateway
    made = json.loads(gateway.cli("token", "create", "short-lived", "--json").stdout)
    listed = gateway.cli("token", "list").stdout
    assert "short-lived" in listed and made["token"] not in listed
    assert made["token"] not in (gateway.data / "smtpeter.sqlite").read_bytes().decode("latin-1")
    for _ in range(4):  # on a connection each: both workers may remember it
        API(gateway, made["token"]).json("/v1/events?limit=1")
    gateway.cli("token", "delete", "short-lived")
    # Refused at once by every worker (each may have remembered it): the
    # command's change mark makes them forget.
    for _ in range(4):
        API(gateway, made["token"]).json("/v1/events?limit=1", 401)


def test_events_by_message_recipient_tag_type_and_time(world):
    spring = world.json("/v1/events?tag=spring")["events"]
    assert [e["type"] for e in spring] == ["attempt", "delivery", "click"]
    qid = spring[0]["messageid"]
    assert all(e["messageid"] == qid and e["tags"] == ["spring"] for e in spring)
    assert spring[0]["sender"] == "news@example.com"
    assert spring[0]["features"] == ["trackclicks"]
    assert spring[1]["code"] == 250 and spring[1]["attempt"] == 1
    assert spring[2]["destination"] == "https://shop.example.com/deal"
    assert world.json(f"/v1/events?messageid={qid.lower()}")["events"] == spring
    two = world.json("/v1/events?email=TWO@example.org")["events"]
    assert [e["type"] for e in two] == ["attempt", "delivery"]
    assert world.json("/v1/events?type=click&email=two@example.org")["events"] == []
    now = time.time()
    assert len(world.json(f"/v1/events?start={now - 600}&end={now + 60}")["events"]) == 5
    assert world.json(f"/v1/events?start={now + 60}")["events"] == []
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert len(world.json(f"/v1/events?start={today}")["events"]) == 5


def test_cursor_walks_every_event_once(world):
    seen, cursor = [], None
    while True:
        page = world.json("/v1/events?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        seen += [e["id"] for e in page["events"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    everything = [e["id"] for e in world.json("/v1/events?limit=1000")["events"]]
    assert seen == everything and len(seen) == 5


@pytest.mark.parametrize(
    "query, parameter",
    [
        ("messageid=xyz", "messageid"),
        ("type=bogus", "type"),
        ("limit=0", "limit"),
        ("limit=many", "limit"),
        ("start=yesterday", "start"),
        ("end=2026-13-45", "end"),
        ("cursor=!!", "cursor"),
        ("email=nobody", "email"),
        ("colour=red", "colour"),
        ("start=2000&end=1000", "end"),
    ],
)
def test_bad_event_parameters_are_400_naming_the_parameter(world, query, parameter):
    body = world.json(f"/v1/events?{query}", 400)
    assert body["parameter"] == parameter
    assert body["error"].startswith(parameter)


def test_message_with_envelope_tags_options_and_status(world):
    [attempt] = world.json("/v1/events?tag=spring&type=attempt")["events"]
    message = world.json(f"/v1/messages/{attempt['messageid']}")
    assert message["messageid"] == attempt["messageid"]
    assert message["envelope"]["sender"] == "news@example.com"
    assert message["envelope"]["recipients"] == ["reader@example.org"]
    assert message["tags"] == ["spring"]
    assert message["options"]["features"] == ["trackclicks"]
    assert message["options"]["login"] == "app"
    [recipient] = message["recipients"]
    assert recipient["email"] == "reader@example.org"
    assert recipient["status"] == "delivered"
    assert (recipient["attempts"], recipient["clicks"], recipient["opens"]) == (1, 1, 0)
    assert world.json("/v1/messages/0123456789ABCDEF0123", 404)["error"].startswith("no message")
    assert world.json("/v1/messages/not-an-id", 400)["parameter"] == "messageid"


def test_logfiles_in_json_and_csv(world):
    today = time.strftime("%Y-%m-%d", time.gmtime())
    deliveries = world.json(f"/v1/logfiles/delivery?date={today}")
    assert sorted(e["email"] for e in deliveries) == ["reader@example.org", "two@example.org"]
    response, body = world.get(f"/v1/logfiles/delivery?date={today}&format=csv")
    assert response.status == 200
    assert response.getheader("content-type").startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert sorted(r["email"] for r in rows) == ["reader@example.org", "two@example.org"]
    assert {r["code"] for r in rows} == {"250"}
    assert world.json("/v1/logfiles/delivery?date=2001-01-01") == []
    assert world.json("/v1/logfiles/delivery", 400)["parameter"] == "date"
    assert world.json("/v1/logfiles/delivery?date=23-11-2026", 400)["parameter"] == "date"
    assert world.json(f"/v1/logfiles/delivery?date={today}&format=xml", 400)["parameter"] == (
        "format"
    )
    assert world.json(f"/v1/logfiles/nothing?date={today}", 400)["parameter"] == "type"


def test_openapi_document_is_served_and_kept_in_docs(world):
    served = world.json("/v1/openapi.json", token=None)
    assert served == document() == json.loads(DOCS.read_text())
    assert set(served["paths"]) == {
        "/healthz",
        "/events",
        "/messages/{messageid}",
        "/messages/{messageid}/release",
        "/logfiles/{type}",
        "/stats",
        "/suppressions",
        "/suppressions/{email}",
        "/logins",
        "/logins/{name}",
        "/logins/{name}/password",
        "/tokens",
        "/tokens/{name}",
        "/domains",
        "/domains/{domain}",
        "/domains/{domain}/rotate",
        "/domains/{domain}/check",
        "/webhooks",
        "/webhooks/{id}",
        "/webhooks/{id}/enable",
        "/webhooks/{id}/test",
        "/queue",
        "/queue/{id}",
        "/queue/{id}/retry",
        "/nodes",
        "/u/{token}",
        "/send",
    }


def _parameterValues(parameter: dict):
    schema = parameter["schema"]
    valid = (
        st.sampled_from(schema["enum"])
        if "enum" in schema
        else st.integers(schema.get("minimum", 1), schema.get("maximum", 1000)).map(str)
        if schema.get("type") == "integer"
        else st.text(max_size=30)
    )
    return st.one_of(valid, st.text(max_size=30), st.integers().map(str))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_generated_requests_get_documented_answers(world, data):
    from urllib.parse import urlencode

    document = json.loads(DOCS.read_text())
    components = document["components"]["schemas"]
    operation = document["paths"]["/events"]["get"]
    chosen = data.draw(
        st.lists(
            st.sampled_from(operation["parameters"]), unique_by=lambda p: p["name"], max_size=4
        )
    )
    query = {p["name"]: data.draw(_parameterValues(p)) for p in chosen}
    response, body = world.get("/v1/events?" + urlencode(query))
    assert str(response.status) in operation["responses"], (query, body)
    documented = operation["responses"][str(response.status)]
    schema = documented["content"]["application/json"]["schema"]
    assert _matches(schema, json.loads(body), components), (query, body)


def test_the_message_id_the_gateway_added_is_in_events_and_the_message(world):
    attempts = world.json("/v1/events?type=attempt")["events"]
    assert len(attempts) == 2
    for attempt in attempts:
        added = attempt["message_id_header"]
        assert re.fullmatch(r"<\d+\.[0-9a-f]{16}@gw\.test>", added), added
        message = world.json(f"/v1/messages/{attempt['messageid']}")
        assert message["message_id_header"] == added
        assert message["login"] == "app" and message["size"] > 100
        assert message["from"] == "news@example.com" and message["subject"] == "features"
    assert attempts[0]["message_id_header"] != attempts[1]["message_id_header"]


def test_stats_by_hour_and_day_with_filters(world):
    overview = world.json("/v1/stats")
    assert overview["by"] == "hour" and len(overview["series"]) in (24, 25)
    assert overview["totals"] == {"accepted": 2, "delivered": 2, "clicked": 1}
    assert sum(b["counts"].get("delivered", 0) for b in overview["series"]) == 2
    spring = world.json("/v1/stats?by=day&tag=spring")
    assert spring["by"] == "day" and spring["totals"]["accepted"] == 1
    assert world.json("/v1/stats?login=app&domain=example.com")["totals"]["delivered"] == 2
    assert world.json("/v1/stats?login=nobody")["totals"] == {}
    error = world.json("/v1/stats?by=week", 400)
    assert error["parameter"] == "by"
    assert world.json("/v1/stats?start=2000-01-01&by=hour", 400)["parameter"] == "start"
