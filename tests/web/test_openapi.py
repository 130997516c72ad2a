"""
The OpenAPI document is package data, the readers' copy in docs/ is equal to
it, and every enumeration in it names exactly what the code accepts or answers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from twisted.internet.defer import succeed
from twisted.web.test.requesthelper import DummyRequest

from smtpeter.admin import NODE_STATUSES, recordsToPublish
from smtpeter.smtp import QUOTA, RATE
from smtpeter.store import OVER_QUOTA
from smtpeter.store._apitokens import SCOPES
from smtpeter.store._events import TYPES, StoredEvent, recipientStatus
from smtpeter.store._queuerequests import ACTIONS
from smtpeter.store._stats import STEPS
from smtpeter.web._logwriters import FORMATS
from smtpeter.web._openapi import document, text
from smtpeter.web._sendrequest import IMAGES, RET
from smtpeter.web._tracking import Health
from smtpeter.web._unsubscribe import ONE_CLICK

DOCS = Path(__file__).parents[2] / "docs" / "openapi.json"


def enums() -> dict[str, list]:
    """Where each enumeration of the document is (a path of keys) -> its values."""
    found: dict[str, list] = {}

    def walk(node, where: str) -> None:
        if isinstance(node, dict):
            if "enum" in node:
                found[where] = node["enum"]
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}/{index}")

    walk(document(), "")
    return found


def test_docs_holds_the_package_document():
    if os.environ.get("SMTPETER_REGOLD"):
        DOCS.write_text(text())
    assert DOCS.read_text() == text()
    assert json.loads(text()) == document()


def test_the_document_is_a_fresh_copy_each_time():
    document()["paths"].clear()
    assert "/events" in document()["paths"]


def _healthStatus(problems: list[str]) -> str:
    """The status GET /healthz answers when the gateway finds C{problems}."""
    checker = type("Checker", (), {"problems": lambda self: succeed(problems)})()
    request = DummyRequest([b""])
    request.code = 200
    Health(None, checker).render(request)
    return json.loads(b"".join(request.written))["status"]


def _recipientStatuses() -> set[str]:
    """Every status recipientStatus gives, from one recipient per outcome."""
    events = [
        StoredEvent(1, "attempt", 0.0, "Q", "queued@x", (), {}),
        StoredEvent(2, "delivery", 0.0, "Q", "delivered@x", (), {"attempt": 1}),
        StoredEvent(3, "failure", 0.0, "Q", "failed@x", (), {"permanent": True}),
        StoredEvent(4, "failure", 0.0, "Q", "deferred@x", (), {"permanent": False}),
        StoredEvent(5, "bounce", 0.0, "Q", "bounced@x", (), {"class": "hard"}),
    ]
    return {entry["status"] for entry in recipientStatus(events).values()}


def test_every_enumeration_is_the_codes_vocabulary():
    kinds = [r["kind"] for r in recordsToPublish({"name": "x", "txt": "t"}, "h", "b", "https://c")]
    healthy, unhealthy = _healthStatus([]), _healthStatus(["the disk is full"])
    expected = {
        "/paths//events/get/parameters/5/schema": list(TYPES),
        "/paths//logfiles/{type}/get/parameters/0/schema": list(TYPES),
        "/components/schemas/Event/properties/type": list(TYPES),
        "/paths//tokens/post/requestBody/content/application/json/schema/properties/scope": list(
            SCOPES
        ),
        "/components/schemas/Token/properties/scope": list(SCOPES),
        "/components/schemas/TokenMade/properties/scope": list(SCOPES),
        "/paths//stats/get/parameters/2/schema": list(STEPS),
        "/paths//stats/get/responses/200/content/application/json/schema/properties/by": list(
            STEPS
        ),
        "/paths//logfiles/{type}/get/parameters/2/schema": list(FORMATS),
        "/paths//healthz/get/responses/200/content/application/json/schema/properties/status": [
            healthy,
            unhealthy,
        ],
        "/paths//healthz/get/responses/503/content/application/json/schema/properties/status": [
            healthy,
            unhealthy,
        ],
        "/components/schemas/QueueRequest/properties/action": list(ACTIONS),
        "/paths//logins/post/requestBody/content/application/json/schema/properties/over_quota": (
            list(OVER_QUOTA)
        ),
        "/paths//logins/{name}/patch/requestBody/content/application/json/schema/properties"
        "/over_quota": list(OVER_QUOTA),
        "/components/schemas/QueueRequest/properties/status": ["requested"],
        "/components/schemas/Node/properties/status": list(NODE_STATUSES),
        "/components/schemas/DomainCheck/properties/records/items/properties/kind": kinds,
        "/paths//u/{token}/post/requestBody/content/application/x-www-form-urlencoded/schema"
        "/properties/List-Unsubscribe": [ONE_CLICK[1]],
        "/paths//u/{token}/post/requestBody/content/multipart/form-data/schema"
        "/properties/List-Unsubscribe": [ONE_CLICK[1]],
        "/components/schemas/Error/properties/reason": [RATE, QUOTA],
        "/components/schemas/SendRequest/properties/dsn/properties/ret": list(RET),
        "/components/schemas/SendRequest/properties/images": list(IMAGES),
    }
    found = enums()
    statuses = found.pop(
        "/components/schemas/Message/properties/recipients/items/properties/status"
    )
    assert set(statuses) == _recipientStatuses() and len(statuses) == len(set(statuses))
    assert found == expected
