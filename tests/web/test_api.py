"""
The REST API's management endpoints and its bearer tokens, through the
site's real HTTP channel and resources, on the in-memory store and
L{MemoryAdministration}, on a L{Clock}: fast and exact. The real gateway's
API is tested end to end in C{tests/e2e/test_api.py} and
C{tests/e2e/test_manage_api.py}.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from smtpeter.queue import Envelope, Options, QueuedMessage, Recipient

QID = "0123456789ABCDEF0123"
HELD = "FEDCBA98765432100000"
HOOK = "https://93.184.216.34/hook"


def test_logins_crud(api):
    assert api.call("GET", "/v1/logins") == {"logins": []}
    made = api.call("POST", "/v1/logins", {"name": "app", "features": ["trackclicks"]}, code=201)
    assert made["name"] == "app" and made["password"] and made["features"] == ["trackclicks"]
    [listed] = api.call("GET", "/v1/logins")["logins"]
    assert listed["name"] == "app" and "password" not in listed
    changed = api.call("PATCH", "/v1/logins/app", {"enabled": False, "hold": True})
    assert changed["enabled"] is False and changed["hold"] is True
    assert api.call("GET", "/v1/logins/app") == changed
    reset = api.call("POST", "/v1/logins/app/password")
    assert reset["password"] != made["password"]
    assert api.call("DELETE", "/v1/logins/app") == {"name": "app", "deleted": True}
    gone = api.call("GET", "/v1/logins/app", code=404)
    assert "GET /v1/logins" in gone["error"]


def test_login_mistakes_are_4xx_naming_the_field(api):
    api.call("POST", "/v1/logins", {"name": "app"}, code=201)
    assert "exists" in api.call("POST", "/v1/logins", {"name": "app"}, code=409)["error"]
    assert api.call("POST", "/v1/logins", {}, code=400)["parameter"] == "name"
    bad = api.call("POST", "/v1/logins", {"name": "x", "features": ["nosuch"]}, code=400)
    assert bad["parameter"] == "features"
    assert api.call("PATCH", "/v1/logins/app", {"colour": 1}, code=400)["parameter"] == "colour"
    assert api.call("PATCH", "/v1/logins/app", {"enabled": "yes"}, code=400)["parameter"] == (
        "enabled"
    )


def test_a_login_s_limits_and_sender_domains(api):
    made = api.call(
        "POST",
        "/v1/logins",
        {"name": "app", "rate": "100/minute", "sender_domains": ["Example.com"]},
        code=201,
    )
    assert (made["rate"], made["quota"], made["over_quota"]) == ("100/minute", None, "refuse")
    assert made["sender_domains"] == ["example.com"]
    changed = api.call(
        "PATCH", "/v1/logins/app", {"rate": None, "quota": "5000/month", "over_quota": "hold"}
    )
    assert (changed["rate"], changed["quota"], changed["over_quota"]) == (
        None,
        "5000/month",
        "hold",
    )
    assert changed["sender_domains"] == ["example.com"]  # not given: kept
    assert changed["usage"]["rate"] is None
    assert changed["usage"]["quota"] == {
        "limit": 5000,
        "period": "month",
        "used": 0,
        "resets": "2027-02-01T00:00:00.000Z",
    }
    cleared = api.call("PATCH", "/v1/logins/app", {"sender_domains": []})
    assert cleared["sender_domains"] == [] and api.call("GET", "/v1/logins/app") == cleared


@pytest.mark.parametrize(
    "body, parameter",
    [
        ({"rate": "5/day"}, "rate"),
        ({"rate": ""}, "rate"),
        ({"rate": 5}, "rate"),
        ({"quota": "10/minute"}, "quota"),
        ({"over_quota": "drop"}, "over_quota"),
        ({"over_quota": None}, "over_quota"),
        ({"sender_domains": "example.com"}, "sender_domains"),
        ({"sender_domains": ["not a domain"]}, "sender_domains"),
    ],
)
def test_bad_limits_are_400_naming_the_field(api, body, parameter):
    api.call("POST", "/v1/logins", {"name": "app"}, code=201)
    assert api.call("PATCH", "/v1/logins/app", body, code=400)["parameter"] == parameter
    assert api.call("POST", "/v1/logins", {"name": "x", **body}, code=400)["parameter"] == (
        parameter
    )
    assert [x["name"] for x in api.call("GET", "/v1/logins")["logins"]] == ["app"]


def test_a_read_token_reads_and_changes_nothing(api):
    api.call("POST", "/v1/logins", {"name": "app"}, code=201)
    assert [x["name"] for x in api.call("GET", "/v1/logins", token="read")["logins"]] == ["app"]
    refused = api.call("DELETE", "/v1/logins/app", token="read", code=403)
    assert "admin" in refused["error"]
    assert len(api.call("GET", "/v1/logins")["logins"]) == 1
    assert "token" in api.call("GET", "/v1/logins", token=None, code=401)["error"]
    assert "revoked" in api.call("GET", "/v1/logins", token="spt_wrong", code=401)["error"]


def test_tokens(api):
    made = api.call("POST", "/v1/tokens", {"name": "reports"}, code=201)
    assert made["scope"] == "read" and made["token"].startswith("spt_")
    listed = api.call("GET", "/v1/tokens")["tokens"]
    assert [t["name"] for t in listed] == ["reports"] and made["token"] not in json.dumps(listed)
    assert api.call("POST", "/v1/tokens", {"name": "x", "scope": "root"}, code=400)[
        "parameter"
    ] == ("scope")
    api.call("POST", "/v1/tokens", {"name": "reports"}, code=409)
    assert api.call("DELETE", "/v1/tokens/reports") == {"name": "reports", "deleted": True}
    api.call("DELETE", "/v1/tokens/reports", code=404)
    assert api.call("GET", "/v1/tokens") == {"tokens": []}


def test_a_send_token_names_its_login(api):
    api.call("POST", "/v1/logins", {"name": "app"}, code=201)
    made = api.call(
        "POST", "/v1/tokens", {"name": "shop", "scope": "send", "login": "app"}, code=201
    )
    assert (made["scope"], made["login"]) == ("send", "app")
    [listed] = api.call("GET", "/v1/tokens")["tokens"]
    assert (listed["scope"], listed["login"]) == ("send", "app")
    for body, code in (
        ({"name": "a", "scope": "send"}, 400),
        ({"name": "b", "scope": "read", "login": "app"}, 400),
        ({"name": "c", "scope": "send", "login": "nobody"}, 404),
    ):
        answer = api.call("POST", "/v1/tokens", body, code=code)
        assert ("login" in answer["error"]) and answer.get("parameter", "login") == "login"


def test_webhooks(api):
    made = api.call("POST", "/v1/webhooks", {"url": HOOK, "events": ["delivery"]}, code=201)
    assert made["secret"] and made["events"] == ["delivery"]
    [listed] = api.call("GET", "/v1/webhooks")["webhooks"]
    assert listed["id"] == made["id"] and "secret" not in listed
    assert api.call("POST", f"/v1/webhooks/{made['id']}/enable")["enabled"] is True
    internal = {"url": "http://10.0.0.1/x", "events": ["delivery"]}
    assert api.call("POST", "/v1/webhooks", internal, code=400)["parameter"] == "url"
    unknown = {"url": HOOK, "events": ["nosuch"]}
    assert api.call("POST", "/v1/webhooks", unknown, code=400)["parameter"] == "events"
    assert api.call("DELETE", f"/v1/webhooks/{made['id']}")["deleted"] is True
    api.call("DELETE", f"/v1/webhooks/{made['id']}", code=404)
    assert "GET /v1/webhooks" in api.call("DELETE", "/v1/webhooks/abc", code=404)["error"]


def test_domains(api):
    added = api.call("POST", "/v1/domains", {"domain": "shop.example", "selector": "s1"}, code=201)
    assert added["name"] == "s1._domainkey.shop.example" and "p=" in added["txt"]
    assert [d["domain"] for d in api.call("GET", "/v1/domains")["domains"]] == ["shop.example"]
    rotated = api.call("POST", "/v1/domains/shop.example/rotate", {"selector": "s2"})
    assert rotated["selector"] == "s2"
    shown = api.call("GET", "/v1/domains/shop.example")
    assert shown["selector"] == "s2" and len(shown["keys"]) == 2
    assert api.call("GET", "/v1/domains/shop.example/check") == {
        "domain": "shop.example",
        "ok": True,
    }
    assert api.checked[0]["selector"] == "s2"
    conflict = api.call("POST", "/v1/domains", {"domain": "shop.example"}, code=409)
    assert "/v1/domains/shop.example/rotate" in conflict["error"]
    assert api.call("DELETE", "/v1/domains/shop.example")["deleted"] == 2
    api.call("GET", "/v1/domains/shop.example", code=404)


def test_nodes(api):
    """GET /v1/nodes: any token reads the nodes and the queue's counts; nothing else there."""
    api.admin.workers = 2
    api.admin.enqueue(QID, worker=2)
    api.admin.enqueue(HELD, held=True)
    found = api.call("GET", "/v1/nodes", token="read")
    assert (found["queued"], found["held"]) == (1, 1)
    [node] = found["nodes"]
    assert (node["name"], node["status"], node["workers"]) == ("memory", "up", 2)
    assert node["claimed_by_worker"] == {"1": 0, "2": 1} and node["claimed"] == 1
    assert node["seen"] == "2027-01-15T08:00:00.000Z"
    api.call("POST", "/v1/nodes", {}, code=405)
    api.call("GET", "/v1/nodes/memory", code=404)
    api.call("GET", "/v1/nodes", token=None, code=401)


def test_queue_actions(api):
    api.admin.enqueue(QID)
    api.admin.enqueue(HELD, held=True, content=b"Subject: held\r\n\r\nkept\r\n")
    listed = api.call("GET", "/v1/queue")["messages"]
    assert [(m["qid"], m["held"]) for m in listed] == [(QID, False), (HELD, True)]
    retry = api.call("POST", f"/v1/queue/{QID}/retry", code=202)
    assert retry == {"qid": QID, "action": "retry", "status": "requested"}
    assert api.call("DELETE", f"/v1/queue/{QID.lower()}", code=202)["action"] == "delete"
    missing = api.call("POST", "/v1/queue/00000000000000000000/retry", code=404)
    assert "GET /v1/queue" in missing["error"]
    assert api.call("POST", f"/v1/messages/{HELD}/release", code=202)["action"] == "release"
    assert "not held" in api.call("POST", f"/v1/messages/{QID}/release", code=409)["error"]
    assert api.call("DELETE", f"/v1/messages/{HELD}", code=202)["action"] == "delete"
    assert "admin" in api.call("POST", f"/v1/queue/{QID}/retry", token="read", code=403)["error"]
    pending = []
    api.admin.pendingActions().addCallback(pending.append)
    assert pending == [{QID: "delete", HELD: "delete"}]


def accepted(api, ago: float = 0.0, tail: str = "00000001") -> str:
    """The id of a message accepted C{ago} seconds before the API's clock."""
    return f"{int((api.clock.seconds() - ago) * 1000):012X}{tail}"


def test_a_message_is_shown_as_soon_as_its_id_is_given(api):
    """
    The 250 (or 202) comes once the message is queued; its record follows
    with the writer's next commit. Asked in between, the API waits for it.
    """
    qid = accepted(api)
    envelope = Envelope("app@example.com", (Recipient("ann@example.org"),))
    message = QueuedMessage(qid, envelope, Options(login="app"), api.clock.seconds(), b"")
    api.admin.enqueue(qid)
    api.clock.callLater(0.5, api.events.accepted, message)
    shown = api.call("GET", f"/v1/messages/{qid}", token="read")
    assert (shown["messageid"], shown["login"]) == (qid, "app")
    assert shown["recipients"][0]["status"] == "queued"
    # Delivered (and kept) before its record was written: the same.
    kept = accepted(api, tail="00000002")
    other = QueuedMessage(kept, envelope, Options(login="app"), api.clock.seconds(), b"")
    api.admin.enqueue(kept)
    api.admin.finish(kept)
    api.clock.callLater(0.5, api.events.accepted, other)
    assert api.call("GET", f"/v1/messages/{kept}", token="read")["messageid"] == kept


def test_a_queued_message_without_a_record_is_503_to_ask_again(api):
    qid = accepted(api)
    api.admin.enqueue(qid)
    answer: list = []
    error = api.call("GET", f"/v1/messages/{qid}", token="read", code=503, answer=answer)
    assert error == {
        "error": f"message {qid} is queued, and its record is not written yet; ask again shortly",
        "retry_after": 1,
    }
    assert answer[0].header("retry-after") == "1"
    missing = api.call(
        "GET", f"/v1/messages/{accepted(api, tail='0000000F')}", token="read", code=404
    )
    assert "unknown" in missing["error"]


def test_a_message_in_a_spool_whose_record_was_purged_is_404_at_once(api):
    """
    A message queued, held or kept longer than --retention keeps its
    record: not waited for (in vain, after a read of its content, then
    told to ask again for ever); nor one whose id says it comes later.
    """
    queued, kept, later = accepted(api, 2 * 86400), accepted(api, 4 * 86400), accepted(api, -3600)
    api.admin.enqueue(queued, content=b"x" * 1000)
    api.admin.enqueue(kept)
    api.admin.finish(kept)
    api.admin.enqueue(later)
    before = api.clock.seconds()
    for qid in (queued, kept, later):
        missing = api.call("GET", f"/v1/messages/{qid}", token="read", code=404)
        assert missing["error"] == (
            f"no message {qid} (unknown, or older than the retention period)"
        )
    assert api.clock.seconds() == before  # no wait


class ReadsWatched(dict):
    """The queue's contents, saying which are read."""

    def __init__(self, contents: dict) -> None:
        super().__init__(contents)
        self.read: list[str] = []

    def __getitem__(self, qid: str) -> bytes:
        self.read.append(qid)
        return super().__getitem__(qid)


def test_a_queued_message_is_shown_without_a_read_of_its_content(api):
    """
    Only held mail shows its content: a read token asking for a queued
    message of 50 MB in a loop had each answer read all of it from the spool.
    """
    envelope = Envelope("app@example.com", (Recipient("ann@example.org"),))
    queued, held = accepted(api, tail="00000001"), accepted(api, tail="00000002")
    for qid in (queued, held):
        api.events.accepted(QueuedMessage(qid, envelope, Options(login="app"), 0.0, b""))
    api.admin.enqueue(queued, content=b"x" * 100_000)
    api.admin.enqueue(held, content=b"Subject: held\r\n\r\nhi\r\n", held=True)
    api.admin.contents = contents = ReadsWatched(api.admin.contents)
    shown = api.call("GET", f"/v1/messages/{queued}", token="read")
    assert shown["messageid"] == queued and shown["held"] is False and "content" not in shown
    assert contents.read == []
    shown = api.call("GET", f"/v1/messages/{held}", token="read")
    assert shown["held"] is True and shown["content"].startswith("Subject: held")
    assert contents.read == [held]


def test_a_large_held_message_shows_its_first_mib_and_says_there_is_more(api):
    envelope = Envelope("app@example.com", (Recipient("ann@example.org"),))
    held = accepted(api, tail="00000003")
    api.events.accepted(QueuedMessage(held, envelope, Options(login="app"), 0.0, b""))
    big = b"Subject: big\r\n\r\n" + b"z" * (3 << 20)
    api.admin.enqueue(held, content=big, held=True)
    asked = []
    read = api.admin._admin.held
    api.admin._admin.held = lambda qid, limit=None: (asked.append(limit), read(qid, limit))[1]
    shown = api.call("GET", f"/v1/messages/{held}", token="read")
    assert shown["content_truncated"] is True and len(shown["content"]) == 1 << 20
    assert shown["content"] == big[: 1 << 20].decode()
    assert asked == [(1 << 20) + 1]  # the spool read no further


# The bearer tokens' cache -----------------------------------------------------------


def test_a_checked_token_is_remembered_for_the_ttl(api):
    asked = []
    checkToken = api.events.checkToken
    api.events.checkToken = lambda token: (asked.append(token), checkToken(token))[1]
    api.call("GET", "/v1/tokens", token="read")
    api.call("GET", "/v1/tokens", token="read")
    assert len(asked) == 1
    api.clock.advance(9.9)
    api.call("GET", "/v1/tokens", token="read")
    assert len(asked) == 1
    api.clock.advance(0.2)  # ten seconds since it was checked: asked again
    api.call("GET", "/v1/tokens", token="read")
    assert len(asked) == 2
    # A token taken from the store after it was checked lasts its TTL at most,
    # even if nobody says so.
    api.events.tokens.clear()
    api.call("GET", "/v1/tokens", token="read")
    api.clock.advance(10)
    api.call("GET", "/v1/tokens", token="read", code=401)


def test_a_deleted_token_is_refused_at_once(api):
    api.call("GET", "/v1/tokens", token="read")
    api.events.deleteToken("reader")  # as the CLI or another worker does, marking the change
    assert "revoked" in api.call("GET", "/v1/tokens", token="read", code=401)["error"]
    api.call("GET", "/v1/tokens")  # the others still work


def test_the_ttl_is_the_bearers(api):
    api.site.bearer.ttl = timedelta(seconds=1)
    api.call("GET", "/v1/tokens", token="read")
    api.events.tokens.clear()
    api.clock.advance(1)
    api.call("GET", "/v1/tokens", token="read", code=401)


def test_suppressions_show_and_take_their_scope(api):
    now = api.clock.seconds()
    api.events.suppress("reader@x.test", "unsubscribed", now, None, QID, "app")
    api.events.suppress("gone@x.test", "hard bounce", now + 1, None, None)
    listed = api.call("GET", "/v1/suppressions")["suppressions"]
    assert [(e["email"], e["login"]) for e in listed] == [
        ("reader@x.test", "app"),
        ("gone@x.test", None),
    ]
    [mine] = api.call("GET", "/v1/suppressions?login=app")["suppressions"]
    assert mine["reason"] == "unsubscribed" and mine["messageid"] == QID
    assert api.call("GET", "/v1/suppressions?login=other") == {"suppressions": []}
    # Looked up: the gateway's entry, or with ?login= the one that stops that login's mail.
    api.call("GET", "/v1/suppressions/reader@x.test", code=404)
    assert api.call("GET", "/v1/suppressions/reader@x.test?login=app")["login"] == "app"
    assert api.call("GET", "/v1/suppressions/gone@x.test?login=app")["login"] is None
    api.call("GET", "/v1/suppressions/reader@x.test?login=other", code=404)
    # Added for one login, by hand: one that exists.
    ghost = {"email": "x@x.test", "login": "ghost"}
    bad = api.call("POST", "/v1/suppressions", ghost, code=400)
    assert bad["parameter"] == "login" and "no login named 'ghost'" in bad["error"]
    api.call("POST", "/v1/logins", {"name": "app"}, code=201)
    made = api.call("POST", "/v1/suppressions", {"email": "x@x.test", "login": "app"}, code=201)
    assert made["login"] == "app"
    bad = api.call("POST", "/v1/suppressions", {"email": "x@x.test", "login": ""}, code=400)
    assert bad["parameter"] == "login"
    api.call("GET", "/v1/suppressions?login=", code=400)
    # Deleted: one login's entry, or every entry of the address.
    api.call("DELETE", "/v1/suppressions/reader@x.test?login=other", code=404)
    gone = api.call("DELETE", "/v1/suppressions/reader@x.test?login=app")
    assert gone == {"email": "reader@x.test", "deleted": True, "login": "app"}
    api.call("DELETE", "/v1/suppressions/x@x.test")
    assert [e["email"] for e in api.call("GET", "/v1/suppressions")["suppressions"]] == [
        "gone@x.test"
    ]
