"""
POST /v1/send's Idempotency-Key against a careless or hostile client: a
key used again with another body (another message, or the first one
corrected) is a 422 naming Idempotency-Key, never the first message's
answer for a message that was not queued (draft-ietf-httpapi-idempotency-
key-header: 422 for a key reused with a different payload); the same body
again gets the first answer; another token's key is another key.
"""

from __future__ import annotations

from .conftest import SendingSite

SIMPLE = {"from": "Shop <news@example.com>", "to": "Ann <ann@example.org>", "text": "hi"}


def test_a_key_used_again_with_another_body_is_refused(gw: SendingSite):
    key = {"Idempotency-Key": "order-1"}
    first = gw.post(SIMPLE, headers=key)
    answer = gw.post({**SIMPLE, "subject": "another message"}, code=422, headers=key)
    assert answer["parameter"] == "Idempotency-Key" and "different body" in answer["error"]
    assert gw.post(SIMPLE, headers=key) == first
    assert len(gw.queue.queued) == 1


def test_a_corrected_body_after_a_400_is_told_to_use_a_new_key(gw: SendingSite):
    key = {"Idempotency-Key": "order-2"}
    assert gw.post({**SIMPLE, "to": "nobody"}, code=400, headers=key)["parameter"] == "to"
    assert gw.post({**SIMPLE, "to": "nobody"}, code=400, headers=key)["parameter"] == "to"
    assert gw.post(SIMPLE, code=422, headers=key)["parameter"] == "Idempotency-Key"
    assert gw.queue.queued == []
    gw.post(SIMPLE, headers={"Idempotency-Key": "order-3"})
    assert len(gw.queue.queued) == 1


def test_the_query_is_part_of_the_request(gw: SendingSite):
    key = {"Idempotency-Key": "mime-1", "Content-Type": "message/rfc822"}
    mime = b"From: a@example.com\r\nSubject: x\r\n\r\nhi\r\n"
    gw.post(None, raw=mime, headers=key, path="/v1/send?recipient=ann@example.org")
    gw.post(None, raw=mime, code=422, headers=key, path="/v1/send?recipient=bob@example.org")
    assert len(gw.queue.queued) == 1
