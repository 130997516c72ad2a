"""
Webhooks through the real gateway: a receiver in the test verifies every
signature, answers 500 a few times and sees the retries; one that keeps
failing gets its webhook disabled, with the reason in 'webhook list'; one
that answers 200 in HTTP/1.0 style (no length, the body ends at close) has
its events delivered once. The receivers listen on 127.0.0.1, so the gateway
and 'webhook add' are given what an operator with a local receiver gives:
--webhook-allow-network 127.0.0.0/8.
"""

from __future__ import annotations

import json
import time

import pytest

from .conftest import ALLOW_LOCAL, Receiver, compose, send, verify


@pytest.fixture
def receiver():
    made = []

    def make(failures: int, closeDelimited: bool = False) -> Receiver:
        made.append(Receiver(failures, closeDelimited))
        return made[-1]

    yield make
    for r in made:
        r.stop()


def test_signed_posts_retried_after_500(makeGateway, sink, receiver):
    hook = receiver(failures=2)
    gateway = makeGateway(sink, "--webhook-retry", "0.2s", *ALLOW_LOCAL)
    added = json.loads(
        gateway.cli(
            *("webhook", "add", hook.url, "--event", "delivery", "--event", "bounce", "--json"),
            *ALLOW_LOCAL,
        ).stdout
    )
    assert added["events"] == ["delivery", "bounce"] and added["secret"].startswith("whsec_")
    password = gateway.createLogin("app")
    send(gateway, "app", password, compose({"X-Smtpeter-Tags": "hooked"}))
    hook.wait(lambda requests: any(code == 204 for _, _, code in requests))
    assert [code for _, _, code in hook.requests] == [500, 500, 204]
    for headers, body, _ in hook.requests:
        assert verify(added["secret"], headers, body)
        assert not verify(added["secret"], headers, body + b" ")
        assert headers["Smtpeter-Event"] == "delivery"
        event = json.loads(body)
        assert event["type"] == "delivery" and event["tags"] == ["hooked"]
        assert event["email"] == "reader@example.org"
    assert len({h["Smtpeter-Delivery"] for h, _, _ in hook.requests}) == 1  # the same one, again
    time.sleep(1)
    assert len(hook.requests) == 3  # attempt events were not asked for; nothing more came
    listed = json.loads(gateway.cli("webhook", "list", "--json").stdout)
    assert listed[0]["enabled"] and listed[0]["last_success"] and "secret" not in listed[0]


def test_a_webhook_that_keeps_failing_is_disabled_with_the_reason(makeGateway, sink, receiver):
    hook = receiver(failures=10**6)
    gateway = makeGateway(sink, "--webhook-retry", "0.2s", "--webhook-give-up", "1s", *ALLOW_LOCAL)
    gateway.cli("webhook", "add", hook.url, "--event", "attempt", *ALLOW_LOCAL)
    password = gateway.createLogin("app")
    send(gateway, "app", password, compose({}))
    deadline = time.monotonic() + 30
    while "DISABLED" not in (listed := gateway.cli("webhook", "list").stdout):
        assert time.monotonic() < deadline, listed
        time.sleep(0.2)
    assert "could not be delivered" in listed and "HTTP 500" in listed
    count = len(hook.requests)
    assert count >= 2
    send(gateway, "app", password, compose({}))
    sink.wait(2)
    time.sleep(1)
    assert len(hook.requests) == count  # disabled: no more POSTs
    gateway.cli("webhook", "enable", "1")
    assert "enabled" in gateway.cli("webhook", "list").stdout


def test_every_delivery_has_its_own_id(makeGateway, sink, receiver):
    hook = receiver(failures=0)
    gateway = makeGateway(sink, *ALLOW_LOCAL)
    gateway.cli("webhook", "add", hook.url, "--event", "delivery", *ALLOW_LOCAL)
    password = gateway.createLogin("app")
    for n in range(4):  # one after another: each POST's row is gone before the next
        send(gateway, "app", password, compose({}, subject=f"number {n}"))
        hook.wait(lambda requests, n=n: len(requests) == n + 1)
    ids = [headers["Smtpeter-Delivery"] for headers, _, _ in hook.requests]
    assert len(set(ids)) == 4, ids


def test_a_200_without_length_ended_by_close_is_a_delivery(makeGateway, sink, receiver):
    """
    An HTTP/1.0 receiver (Python's http.server) answers 200 with no
    Content-Length and closes: it got the event. It was recorded as
    'PartialDownloadError: 200 OK', retried, and in a day disabled.
    """
    hook = receiver(failures=0, closeDelimited=True)
    gateway = makeGateway(sink, "--webhook-retry", "0.2s", *ALLOW_LOCAL)
    gateway.cli("webhook", "add", hook.url, "--event", "delivery", *ALLOW_LOCAL)
    send(gateway, "app", gateway.createLogin("app"), compose({}))
    hook.wait(lambda requests: len(requests) == 1)
    time.sleep(1)  # a failure would have been retried (every 0.2 s) several times by now
    assert [code for _, _, code in hook.requests] == [200]
    [listed] = json.loads(gateway.cli("webhook", "list", "--json").stdout)
    assert listed["enabled"] and listed["last_success"] and listed["last_error"] is None
    assert [(d["delivered"], d["error"]) for d in listed["deliveries"]] == [(True, None)]
