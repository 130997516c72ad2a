"""
POST /v1/send through the site's real HTTP channel and resources, on the
in-memory store, a queue that records what it is given, and a Clock: every
field, every 400, the tokens, limits, sender domains, hold mode and
Idempotency-Key. The real gateway: tests/e2e/test_send.py.
"""

from __future__ import annotations

import base64
import json
import math
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from twisted.internet.defer import Deferred

from smtpeter.message import parseRecipientId
from smtpeter.store import Limit
from smtpeter.testing import serveHTTP
from smtpeter.web._sendrequest import readSend

from .conftest import NOW, SendingSite, rawRequest

SIMPLE = {"from": "Shop <news@example.com>", "to": "Ann <ann@example.org>", "text": "hi"}


def test_a_message_from_parts_is_queued_and_each_recipient_gets_an_id(gw):
    answer = gw.post(
        {
            "recipients": ["ann@example.org", "bob@example.org"],
            "from": "Shöp <news@example.com>",
            "to": ["Ann <ann@example.org>", "bob@example.org"],
            "cc": "carl@example.org",
            "replyto": "help@example.com",
            "subject": "Größe",
            "text": "hello",
            "html": "<p>hello</p>",
            "attachments": [
                {
                    "name": "a.pdf",
                    "type": "application/pdf",
                    "data": base64.b64encode(b"%PDF").decode(),
                }
            ],
            "extra": {"X-Campaign": "spring"},
        }
    )
    assert sorted(answer.values()) == ["ann@example.org", "bob@example.org"]
    qids = {parseRecipientId(i) for i in answer}
    assert qids == {("00000000000000000001", 0), ("00000000000000000001", 1)}
    envelope, options, m = gw.message()
    assert envelope.sender == "news@example.com"
    assert [r.address for r in envelope.recipients] == ["ann@example.org", "bob@example.org"]
    assert options.login == "app" and not options.hold
    assert m["Subject"] == "Größe" and m["X-Campaign"] == "spring"
    assert m["From"].addresses[0].display_name == "Shöp"
    assert m["Message-ID"] and m["Date"] and m["Received"].startswith("from [192.0.2.1]")
    assert m.get_content_type() == "multipart/mixed"
    assert [p.get_content() for p in m.iter_attachments()] == [b"%PDF"]


def test_the_recipients_default_to_to_and_cc(gw):
    gw.post({**SIMPLE, "cc": ["Bob <bob@example.org>"]})
    envelope, _, _ = gw.message()
    assert [r.address for r in envelope.recipients] == ["ann@example.org", "bob@example.org"]


def test_options_become_the_headers_the_smtp_path_reads(gw):
    gw.post(
        {
            **SIMPLE,
            "inlinecss": True,
            "trackclicks": True,
            "trackopens": False,
            "trackbounces": True,
            "preventscam": True,
            "images": "hosted",
            "tags": ["spring", "news"],
            "maxdelivertime": "2027-01-16 08:00:00",
        }
    )
    _, options, m = gw.message()
    assert options.features == {
        "inlinecss",
        "trackclicks",
        "trackbounces",
        "preventscam",
        "hostedimages",
    }
    assert options.tags == ("spring", "news")
    assert options.maxDeliverTime == NOW + 86400
    assert not [k for k in m.keys() if k.lower().startswith("x-smtpeter-")]


def test_mime_is_sent_as_given_with_options(gw):
    mime = (
        "From: Shop <news@example.com>\nTo: ann@example.org\nSubject: raw\n"
        "Content-Type: text/plain; charset=utf-8\n\nbody é\n"
    )
    gw.post({"recipient": "ann@example.org", "mime": mime, "tags": "a, b"}, token=None)
    envelope, options, m = gw.message()
    assert envelope.sender == "news@example.com" and envelope.body == "8BITMIME"
    assert options.tags == ("a", "b")
    assert m["Subject"] == "raw"
    assert m.get_content() == "body é\r\n"


def test_the_token_may_come_as_access_token(gw):
    gw.post(SIMPLE, token="", path=f"/v1/send?access_token={gw.token}")
    assert len(gw.queue.queued) == 1


def test_dsn_fills_the_envelope_as_mail_and_rcpt_parameters_do(gw):
    gw.post(
        {
            **SIMPLE,
            "dsn": {
                "notify": "success,failure",
                "ret": "hdrs",
                "envid": "abc-1",
                "orcpt": "ann@x.org",
            },
        }
    )
    envelope, _, _ = gw.message()
    assert (envelope.ret, envelope.envid) == ("HDRS", "abc-1")
    [recipient] = envelope.recipients
    assert recipient.notify == ("SUCCESS", "FAILURE") and recipient.orcpt == "rfc822;ann@x.org"
    gw.post({**SIMPLE, "dsn": {"notify": ["NEVER"]}})
    assert gw.message()[0].recipients[0].notify == ("NEVER",)


@pytest.mark.parametrize(
    "unsubscribe, headers",
    [
        ("https://example.com/u/1", {"List-Unsubscribe": "<https://example.com/u/1>"}),
        (
            ["https://example.com/u/1", "mailto:u@example.com"],
            {"List-Unsubscribe": "<https://example.com/u/1>, <mailto:u@example.com>"},
        ),
        ("u@example.com", {"List-Unsubscribe": "<mailto:u@example.com>"}),
        (
            {"url": "https://example.com/u/1", "email": "u@example.com", "oneclick": True},
            {
                "List-Unsubscribe": "<https://example.com/u/1>, <mailto:u@example.com>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        ),
        (
            {"oneclick": True, "email": "u@example.com"},
            {"X-Smtpeter-Unsubscribe": "true", "X-Smtpeter-Unsubscribe-Mailto": "u@example.com"},
        ),
        # The login's feature turned off for this message.
        ({"oneclick": False}, {"X-Smtpeter-Unsubscribe": "false"}),
    ],
)
def test_unsubscribe(gw, unsubscribe, headers):
    # What is written, before the submission step reads the X-Smtpeter-* fields
    # (the gateway's own one-click unsubscribe is a feature of its own).
    written = readSend({**SIMPLE, "unsubscribe": unsubscribe}, 5, NOW).content
    m = message_from_bytes(written, policy=policy.default)
    for name, value in headers.items():
        assert m[name] == value
    if "List-Unsubscribe-Post" not in headers:
        assert m["List-Unsubscribe-Post"] is None
    gw.post({**SIMPLE, "unsubscribe": unsubscribe})
    _, _, content = gw.queue.queued[-1]
    queued = message_from_bytes(content, policy=policy.default)
    assert queued["List-Unsubscribe"] == headers.get("List-Unsubscribe")
    assert queued["X-Smtpeter-Unsubscribe"] is None  # read, and taken out


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "recipients"),
        ({"from": "a@example.com", "text": "x"}, "recipients"),
        ({**SIMPLE, "bogus": 1}, "bogus"),
        ({**SIMPLE, "recipient": "x@example.org", "recipients": ["y@example.org"]}, "recipient"),
        ({**SIMPLE, "recipient": "not an address"}, "recipient"),
        ({**SIMPLE, "recipients": []}, "recipients"),
        ({**SIMPLE, "recipients": [f"r{n}@example.org" for n in range(6)]}, "recipients"),
        ({"to": "a@example.org", "text": "x"}, "from"),
        ({**SIMPLE, "from": 5}, "from"),
        ({**SIMPLE, "cc": "nobody"}, "cc"),
        ({**SIMPLE, "replyto": ["a@example.com", 1]}, "replyto"),
        ({**SIMPLE, "text": 1}, "text"),
        ({"recipient": "a@example.org", "from": "a@example.com"}, "text"),
        ({**SIMPLE, "mime": "Subject: x\n\nbody"}, "from"),
        ({"recipient": "a@example.org", "mime": "no header here"}, "mime"),
        ({"recipient": "a@example.org", "mime": "Subject: x\n\nbody"}, "envelope"),
        ({**SIMPLE, "envelope": "bad address"}, "envelope"),
        (
            {**SIMPLE, "attachments": [{"name": "a", "url": "http://169.254.169.254/"}]},
            "attachments",
        ),
        ({**SIMPLE, "attachments": [{"name": "a", "data": "not base64!"}]}, "attachments"),
        ({**SIMPLE, "attachments": [{"name": "a", "data": "", "size": 1}]}, "attachments"),
        ({**SIMPLE, "attachments": {"name": "a"}}, "attachments"),
        ({**SIMPLE, "attachments": [{"name": "a", "type": "x", "data": ""}]}, "attachments"),
        ({**SIMPLE, "extra": {"X-Smtpeter-Hold": "true"}}, "extra"),
        ({**SIMPLE, "extra": {"X-Ok": 1}}, "extra"),
        ({**SIMPLE, "extra": ["X-Ok"]}, "extra"),
        ({**SIMPLE, "unsubscribe": "javascript:alert(1)"}, "unsubscribe"),
        ({**SIMPLE, "unsubscribe": "ftp://example.com/u"}, "unsubscribe"),
        ({**SIMPLE, "unsubscribe": "https://example.com/a b"}, "unsubscribe"),
        ({**SIMPLE, "unsubscribe": {"url": "https://x.example", "oneclick": "yes"}}, "unsubscribe"),
        ({**SIMPLE, "unsubscribe": {"email": "not an address"}}, "unsubscribe"),
        ({**SIMPLE, "unsubscribe": {}}, "unsubscribe"),
        ({**SIMPLE, "trackclicks": "yes"}, "trackclicks"),
        ({**SIMPLE, "images": "remote"}, "images"),
        ({**SIMPLE, "tags": [1]}, "tags"),
        ({**SIMPLE, "tags": ["has space"]}, "tags"),
        ({**SIMPLE, "tags": [f"t{n}" for n in range(21)]}, "tags"),
        ({**SIMPLE, "maxdelivertime": "2020-01-01 00:00:00"}, "maxdelivertime"),
        ({**SIMPLE, "maxdelivertime": "tomorrow"}, "maxdelivertime"),
        ({**SIMPLE, "maxdelivertime": 1800000000}, "maxdelivertime"),
        ({**SIMPLE, "dsn": {"notify": "NEVER,SUCCESS"}}, "dsn"),
        ({**SIMPLE, "dsn": {"ret": "ALL"}}, "dsn"),
        ({**SIMPLE, "dsn": {"envid": "has space"}}, "dsn"),
        ({**SIMPLE, "dsn": {"when": 1}}, "dsn"),
        ({**SIMPLE, "to": ["a@example.org", "b@example.org"], "dsn": {"orcpt": "a@x.org"}}, "dsn"),
        ({**SIMPLE, "dsn": "SUCCESS"}, "dsn"),
    ],
)
def test_every_mistake_is_a_400_naming_its_field(gw, body, field):
    answer = gw.post(body, code=400)
    assert answer["parameter"] == field, answer
    assert answer["error"].startswith(f"{field}: ")
    assert gw.queue.queued == []


def test_bodies_that_are_not_json_objects_are_400s(gw):
    assert "not JSON" in gw.post(None, code=400, raw=b"{nope")["error"]
    assert "object" in gw.post(None, code=400, raw=b"[1]")["error"]
    assert gw.queue.queued == []


def test_other_tokens_may_not_send_and_a_send_token_may_do_nothing_else(gw):
    for token in (gw.readToken, gw.adminToken):
        answer = gw.post(SIMPLE, code=403, token=token)
        assert "send token" in answer["error"]
    assert "Bearer" in gw.post(SIMPLE, code=401, token="")["error"]
    assert gw.post(SIMPLE, code=401, token="spt_nonsense")
    for method, path in (("GET", "/v1/events"), ("GET", "/v1/messages/00000000000000000001")):
        response = serveHTTP(gw.site, method, path, {"Authorization": f"Bearer {gw.token}"})
        assert response.code == 403 and "only send" in response.json()["error"]
    assert gw.queue.queued == []


def test_a_disabled_or_deleted_login_s_tokens_are_refused(gw):
    gw.login(enabled=False)
    assert "disabled or deleted" in gw.post(SIMPLE, code=403)["error"]
    del gw.store.logins.logins["app"]
    assert "disabled or deleted" in gw.post(SIMPLE, code=403)["error"]
    assert gw.queue.queued == []


def test_hold_mode_holds(gw):
    gw.login(hold=True)
    gw.post(SIMPLE)
    assert gw.message()[1].hold


def test_sender_domains_name_from_or_envelope(gw):
    gw.login(senderDomains=("example.com",))
    gw.post(SIMPLE)
    outside = gw.post({**SIMPLE, "from": "x@evil.example"}, code=403)
    assert outside["parameter"] == "from" and "x@evil.example" in outside["error"]
    envelope = gw.post({**SIMPLE, "envelope": "bounce@evil.example"}, code=403)
    assert envelope["parameter"] == "envelope"
    mixed = gw.post(
        {**SIMPLE, "envelope": "bounces@example.com", "from": "x@evil.example"}, code=403
    )
    assert mixed["parameter"] == "from"
    assert len(gw.queue.queued) == 1


def test_over_the_rate_is_429_with_retry_after_and_nothing_counted_of_a_refused_send(gw):
    gw.login(rate=Limit(3, "minute"))
    gw.post({**SIMPLE, "to": ["a@example.org", "b@example.org"]})
    refused = gw.post({**SIMPLE, "to": ["c@example.org", "d@example.org"]}, code=429)
    assert refused["reason"] == "rate" and refused["limit"] == "3/minute"
    assert 0 < int(gw.response.header("retry-after")) <= 60
    gw.post(SIMPLE)  # the refused send's first recipient was given back
    gw.post(SIMPLE, code=429)
    assert len(gw.queue.queued) == 2


def _untilNext(period: str) -> int:
    """The seconds from NOW to the next UTC midnight (day) or first of a month (month)."""
    today = datetime.fromtimestamp(NOW, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        end = today + timedelta(days=1)
    else:
        end = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    return math.ceil(end.timestamp() - NOW)


@pytest.mark.parametrize("period", ["day", "month"])
def test_over_the_quota_is_429_with_retry_after_until_its_window_ends(gw, period):
    gw.login(quota=Limit(1, period))
    gw.post(SIMPLE)
    refused = gw.post(SIMPLE, code=429)
    assert refused["reason"] == "quota" and "quota exceeded" in refused["error"]
    assert refused["limit"] == f"1/{period}"
    wait = _untilNext(period)
    assert 0 < wait and int(gw.response.header("retry-after")) == wait
    assert refused["retry_after"] == wait
    gw.clock.advance(wait - 2)
    gw.post(SIMPLE, code=429)
    assert int(gw.response.header("retry-after")) == 2
    gw.clock.advance(2)  # the next window: the quota counts from zero
    gw.post(SIMPLE)
    assert len(gw.queue.queued) == 2


def test_over_the_quota_with_over_quota_hold_is_accepted_and_held(gw):
    gw.login(quota=Limit(1, "day"))
    gw.post(SIMPLE)
    gw.post(SIMPLE, code=429)
    gw.login(quota=Limit(1, "day"), overQuota="hold")
    gw.post(SIMPLE)
    assert gw.message()[1].hold


def test_a_message_over_max_size_is_413(gw):
    small = SendingSite(maxSize=2000)
    answer = small.post({**SIMPLE, "text": "x" * 3000}, code=413)
    assert "--max-size" in answer["error"]


def test_a_body_over_the_limit_is_refused_before_it_is_read():
    small = SendingSite(maxSize=3 * 1024 * 1024)
    limit = small.site.sendMaxBody
    assert limit == 4 * 1024 * 1024 + 1024 * 1024
    # The announced length alone refuses it: the body here is not even sent.
    transport = rawRequest(
        small.site,
        f"POST /v1/send HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {small.token}\r\n"
        f"Content-Length: {limit + 1}\r\n\r\n".encode(),
    )
    assert transport.value().startswith(b"HTTP/1.1 413") and transport.disconnecting
    # Without a token, 401 before anything is read (even with ?access_token= of nothing).
    response = serveHTTP(small.site, "POST", "/v1/send?access_token=", {}, b"{}")
    assert response.code == 401


def test_the_same_idempotency_key_gets_the_first_answer_and_queues_nothing_more(gw):
    key = {"Idempotency-Key": "order-1"}
    first = gw.post(SIMPLE, headers=key)
    assert gw.post(SIMPLE, headers=key) == first
    assert gw.post({**SIMPLE, "subject": "other"}, code=422, headers=key)["parameter"] == (
        "Idempotency-Key"
    )
    assert len(gw.queue.queued) == 1
    # a mistake is kept too, as its first answer
    bad = {"Idempotency-Key": "order-2"}
    assert gw.post({"bogus": 1}, code=400, headers=bad)["parameter"] == "bogus"
    assert gw.post({"bogus": 1}, code=400, headers=bad)["parameter"] == "bogus"
    # another token's key of the same name is another key
    other = gw.store.addToken("other", "send", "app")
    assert gw.post(SIMPLE, headers=key, token=other) != first
    assert len(gw.queue.queued) == 2
    assert gw.post(SIMPLE, code=400, headers={"Idempotency-Key": "é" * 3})["parameter"] == (
        "Idempotency-Key"
    )


def test_a_refused_first_attempt_frees_its_key(gw):
    gw.login(rate=Limit(1, "minute"))
    gw.post(SIMPLE)
    key = {"Idempotency-Key": "retry-me"}
    gw.post(SIMPLE, code=429, headers=key)
    gw.clock.advance(60)
    answer = gw.post(SIMPLE, headers=key)
    assert gw.post(SIMPLE, headers=key) == answer
    assert len(gw.queue.queued) == 2


def test_a_retry_while_the_first_is_answered_waits_for_its_answer(gw):
    gw.queue.gate = gate = Deferred()
    data = json.dumps(SIMPLE).encode()

    def start(key: str):
        return rawRequest(
            gw.site,
            f"POST /v1/send HTTP/1.0\r\nContent-Length: {len(data)}\r\n"
            f"Authorization: Bearer {gw.token}\r\nIdempotency-Key: {key}\r\n\r\n".encode()
            + data,
        )

    one, two = start("k"), start("k")
    gw.clock.advance(1)
    assert one.value() == b"" and two.value() == b""  # the second waits for the first
    gate.callback(None)
    gw.clock.advance(1)
    assert one.value().startswith(b"HTTP/1.0 202")
    assert one.value().split(b"\r\n\r\n")[1] == two.value().split(b"\r\n\r\n")[1]
    assert len(gw.queue.queued) == 1
    # one still unanswered after a while: 409 with Retry-After
    gw.queue.gate = Deferred()
    three, four = start("slow"), start("slow")
    gw.clock.pump([0.2] * 30)
    assert three.value() == b""
    assert four.value().startswith(b"HTTP/1.0 409") and b"retry-after: 1" in four.value().lower()
    assert len(gw.queue.queued) == 2


def test_the_wrong_token_is_refused_before_the_body_is_read(gw):
    for token, path in ((gw.readToken, "/v1/send"), (gw.token, "/v1/logins")):
        transport = rawRequest(
            gw.site,
            f"POST {path} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {token}\r\n"
            "Content-Length: 100000\r\n\r\n".encode(),  # the body never comes
        )
        assert transport.value().startswith(b"HTTP/1.1 403"), transport.value()
        assert transport.disconnecting


def test_the_mime_s_own_options_are_read_and_a_bad_one_names_mime(gw):
    mime = "From: news@example.com\nX-Smtpeter-TrackOpens: maybe\nSubject: x\n\nbody\n"
    answer = gw.post({"recipient": "ann@example.org", "mime": mime}, code=400)
    assert answer["parameter"] == "mime" and "x-smtpeter-trackopens" in answer["error"]
    gw.post({"recipient": "ann@example.org", "mime": mime.replace("maybe", "yes")})
    assert gw.message()[1].features == {"trackopens"}


def test_sending_notes_the_login_s_use(gw):
    assert gw.store.logins.logins["app"][0].lastUsed is None
    gw.post(SIMPLE)
    assert gw.store.logins.logins["app"][0].lastUsed == NOW


def test_a_message_rfc822_body_is_the_mime_with_the_envelope_in_the_query(gw):
    message = b"From: news@example.com\r\nSubject: raw body\r\n\r\nhello\r\n"
    headers = {"Content-Type": "message/rfc822"}
    path = "/v1/send?recipients=ann@example.org,bob@example.org&recipients=carl@example.org"
    answer = gw.post(None, raw=message, headers=headers, path=path)
    assert sorted(answer.values()) == ["ann@example.org", "bob@example.org", "carl@example.org"]
    envelope, _, m = gw.message()
    assert envelope.sender == "news@example.com" and m["Subject"] == "raw body"
    path = f"/v1/send?recipient=ann@example.org&envelope=b@example.com&access_token={gw.token}"
    gw.post(None, raw=message, headers=headers, path=path, token="")
    assert gw.message()[0].sender == "b@example.com"
    for path, field in (
        ("/v1/send?recipient=ann@example.org&subject=x", "subject"),
        ("/v1/send?recipient=a@example.org&recipient=b@example.org", "recipient"),
        ("/v1/send", "recipients"),
    ):
        assert (
            gw.post(None, code=400, raw=message, headers=headers, path=path)["parameter"] == field
        )
    bad = gw.post(None, code=400, raw=b"Subject: \xff\r\n\r\n", headers=headers, path=path)
    assert bad["parameter"] == "mime"


def test_from_takes_a_list_too(gw):
    gw.post({**SIMPLE, "from": ["Shop <news@example.com>", "Desk <desk@example.com>"]})
    envelope, _, m = gw.message()
    assert envelope.sender == "news@example.com" and len(m["From"].addresses) == 2
