"""
The OpenAPI document of the REST API, served at C{/v1/openapi.json}. A test
checks that the copy in C{docs/openapi.json} agrees; C{SMTPETER_REGOLD=1}
makes that test rewrite the copy.
"""

from __future__ import annotations

import json

from ..store._events import TYPES


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _query(name: str, description: str, schema: dict | None = None) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


_TIME = (
    "a date (2026-11-23, midnight UTC), an ISO 8601 date-time (UTC unless it has an offset)"
    " or seconds since 1970"
)
_ERRORS = {
    "400": _error("A parameter is wrong; `parameter` names it and `error` says why."),
    "401": _error(
        "No token, or one that is unknown or revoked; said at once, before a body is read."
    ),
}
#: What any operation may answer: the HTTP channel caps every body, and
#: every call reads the database (its token, at least).
_CHANNEL = {
    "413": _error(
        "The request's body is over 1 MiB (said from its Content-Length, before it is read)."
    ),
    "503": _error(
        "The gateway's database is damaged or cannot be read; the gateway's log says what."
    ),
}
#: ... and what an operation that writes may answer.
_WRITES = {
    "507": _error(
        "The disk holding the gateway's data is full: `error` names the directory where"
        " space must be freed; then try again."
    ),
}
_WRITING = ("post", "put", "patch", "delete")
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _withChannelAnswers(paths: dict) -> dict:
    """C{paths}, each operation also naming what the channel and the disk may answer."""
    for item in paths.values():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            responses = operation["responses"]
            for code, answer in {**_CHANNEL, **(_WRITES if method in _WRITING else {})}.items():
                responses.setdefault(code, answer)
            operation["responses"] = dict(sorted(responses.items()))
    return paths


_HEALTH = {
    "type": "object",
    "required": ["status"],
    "properties": {
        "status": {"type": "string", "enum": ["ok", "unhealthy"]},
        "problems": {
            "type": "array",
            "items": {"type": "string"},
            "description": "unhealthy only: each problem (database, spool, disk), in a sentence",
        },
        "error": {"type": "string", "description": "unhealthy only: the problems, joined by '; '"},
    },
}


def _health() -> dict:
    """C{/healthz}, outside C{/v1} and without a token."""
    return {
        "/healthz": {
            "servers": [{"url": "/"}],
            "get": {
                "summary": "Whether the gateway can serve: its database can be read and"
                " written, its spool is usable, and there is disk space",
                "operationId": "getHealth",
                "security": [],
                "responses": {
                    "200": _json('Healthy: `{"status": "ok"}`.', _HEALTH),
                    "503": _json(
                        "Unhealthy: `status` is `unhealthy` and `problems` names each problem.",
                        _HEALTH,
                    ),
                },
            },
        }
    }


def _json(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_SUPPRESSION = {
    "type": "object",
    "required": ["email", "reason", "created", "expires", "messageid"],
    "properties": {
        "email": {"type": "string"},
        "reason": {
            "type": "string",
            "description": "hard bounce, complaint, or what the administrator gave",
        },
        "created": {"type": "string", "format": "date-time"},
        "expires": {"type": ["string", "null"], "format": "date-time"},
        "messageid": {
            "type": ["string", "null"],
            "description": "the message whose bounce or complaint caused it",
        },
    },
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _body(properties: dict, required=()) -> dict:
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": list(required),
                    "properties": properties,
                    "additionalProperties": False,
                }
            }
        },
    }


def _path(name: str) -> list:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}]


def _operation(summary: str, operationId: str, answers: dict, body=None, change=False) -> dict:
    responses = dict(answers)
    responses.update(_ERRORS)
    if change:
        responses["403"] = _error("The token may only read: changes need an admin token.")
    operation = {"summary": summary, "operationId": operationId, "responses": responses}
    if body is not None:
        operation["requestBody"] = body
    return operation


_MISSING = {"404": _error("Nothing by that name.")}
_MESSAGEID = {"type": "string", "pattern": "^[0-9A-Fa-f]{20}$"}
_REQUESTED = _json(
    "Requested: the worker whose queue holds the message does it within a second.",
    {"$ref": "#/components/schemas/QueueRequest"},
)
_EXISTS = {"409": _error("One by that name exists already.")}
_STRINGS = {"type": "array", "items": {"type": "string"}}


def _management() -> dict:
    """The paths of logins, tokens, domains and webhooks."""
    deleted = _json("Deleted.", _ref("Deleted"))
    return {
        "/logins": {
            "get": _operation(
                "SMTP logins (never their passwords)",
                "listLogins",
                {"200": _json("Every login.", _list("logins", _ref("Login")))},
            ),
            "post": _operation(
                "Create an SMTP login; its password is in the answer, and only there",
                "createLogin",
                {"201": _json("The login and its password.", _ref("LoginWithPassword")), **_EXISTS},
                _body(
                    {
                        "name": {"type": "string", "minLength": 1, "maxLength": 200},
                        "features": _STRINGS,
                        "hold": {"type": "boolean", "description": "hold mode: keep its mail"},
                    },
                    ["name"],
                ),
                change=True,
            ),
        },
        "/logins/{name}": {
            "parameters": _path("name"),
            "get": _operation(
                "One login", "getLogin", {"200": _json("The login.", _ref("Login")), **_MISSING}
            ),
            "patch": _operation(
                "Change a login's features (the whole set), enabled, or click domain",
                "updateLogin",
                {"200": _json("The login as it is now.", _ref("Login")), **_MISSING},
                _body(
                    {
                        "features": _STRINGS,
                        "enabled": {"type": "boolean"},
                        "public_url": {
                            "type": ["string", "null"],
                            "description": "its own click domain; empty or null for the gateway's",
                        },
                        "hold": {"type": "boolean", "description": "hold mode: keep its mail"},
                    }
                ),
                change=True,
            ),
            "delete": _operation(
                "Delete a login", "deleteLogin", {"200": deleted, **_MISSING}, change=True
            ),
        },
        "/logins/{name}/password": {
            "parameters": _path("name"),
            "post": _operation(
                "A new password for a login (the old one stops working)",
                "resetPassword",
                {
                    "200": _json("The login and its new password.", _ref("LoginWithPassword")),
                    **_MISSING,
                },
                change=True,
            ),
        },
        "/tokens": {
            "get": _operation(
                "REST API tokens (names and scopes, never the tokens)",
                "listTokens",
                {"200": _json("Every token.", _list("tokens", _ref("Token")))},
            ),
            "post": _operation(
                "Make a token; it is in the answer, and only there",
                "createToken",
                {"201": _json("The token.", _ref("TokenMade")), **_EXISTS},
                _body(
                    {
                        "name": {"type": "string", "minLength": 1, "maxLength": 100},
                        "scope": {"type": "string", "enum": ["read", "admin"]},
                    },
                    ["name"],
                ),
                change=True,
            ),
        },
        "/tokens/{name}": {
            "parameters": _path("name"),
            "delete": _operation(
                "Revoke a token", "deleteToken", {"200": deleted, **_MISSING}, change=True
            ),
        },
        "/domains": {
            "get": _operation(
                "Sender domains' DKIM keys, signing and retired",
                "listDomains",
                {"200": _json("Every key.", _list("domains", _ref("DomainKey")))},
            ),
            "post": _operation(
                "Make a DKIM key for a sender domain; the answer has the DNS record to publish",
                "addDomain",
                {"201": _json("The record to publish.", _ref("DNSRecord")), **_EXISTS},
                _body(
                    {
                        "domain": {"type": "string", "maxLength": 253},
                        "selector": {"type": "string", "maxLength": 253},
                    },
                    ["domain"],
                ),
                change=True,
            ),
        },
        "/domains/{domain}": {
            "parameters": _path("domain"),
            "get": _operation(
                "A domain's signing key and its records",
                "getDomain",
                {"200": _json("The domain.", _ref("Domain")), **_MISSING},
            ),
            "delete": _operation(
                "Stop signing for a domain and forget its keys",
                "deleteDomain",
                {"200": _json("How many keys went.", {"type": "object"}), **_MISSING},
                change=True,
            ),
        },
        "/domains/{domain}/rotate": {
            "parameters": _path("domain"),
            "post": _operation(
                "A new signing key for a domain (the old one is kept, retired)",
                "rotateDomain",
                {"200": _json("The new record to publish.", _ref("DNSRecord")), **_MISSING},
                {
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"selector": {"type": "string"}},
                            }
                        }
                    },
                },
                change=True,
            ),
        },
        "/domains/{domain}/check": {
            "parameters": _path("domain"),
            "get": _operation(
                "Look the domain's DKIM record, the bounce domain's SPF and MX, and the click"
                " domain up now, and say per record whether it is right",
                "checkDomain",
                {
                    "200": _json(
                        "The records, each with ok, found and what to publish.", _ref("DomainCheck")
                    ),
                    **_MISSING,
                },
            ),
        },
        "/webhooks": {
            "get": _operation(
                "Webhooks, their events and state",
                "listWebhooks",
                {"200": _json("Every webhook.", _list("webhooks", _ref("Webhook")))},
            ),
            "post": _operation(
                "Add a webhook; its signing secret is in the answer, and only there",
                "addWebhook",
                {"201": _json("The webhook and its secret.", _ref("WebhookMade"))},
                _body({"url": {"type": "string"}, "events": _STRINGS}, ["url", "events"]),
                change=True,
            ),
        },
        "/webhooks/{id}": {
            "parameters": _path("id"),
            "delete": _operation(
                "Delete a webhook and its waiting deliveries",
                "deleteWebhook",
                {"200": deleted, **_MISSING},
                change=True,
            ),
        },
        "/webhooks/{id}/test": {
            "parameters": _path("id"),
            "post": _operation(
                "Send a signed test event (type test) to a webhook now",
                "testWebhook",
                {
                    "200": _json(
                        "What the receiver answered.",
                        {
                            "type": "object",
                            "required": ["id", "url", "delivered", "status", "error"],
                            "properties": {
                                "id": {"type": "integer"},
                                "url": {"type": "string"},
                                "delivered": {"type": "boolean"},
                                "status": {"type": ["integer", "null"]},
                                "error": {"type": ["string", "null"]},
                            },
                        },
                    ),
                    **_MISSING,
                },
                change=True,
            ),
        },
        "/queue/{id}": {
            "parameters": _path("id"),
            "delete": _operation(
                "Take a message out of the queue (its sender gets a DSN where one is due)",
                "deleteQueued",
                {
                    "202": _REQUESTED,
                    **_MISSING,
                },
                change=True,
            ),
        },
        "/queue/{id}/retry": {
            "parameters": _path("id"),
            "post": _operation(
                "Attempt a queued message's pending recipients now",
                "retryQueued",
                {
                    "202": _REQUESTED,
                    **_MISSING,
                },
                change=True,
            ),
        },
        "/queue": {
            "get": _operation(
                "Messages not yet finished, in every worker's spool, with each recipient's state",
                "listQueue",
                {"200": _json("The queue.", _list("messages", {"type": "object"}))},
            ),
        },
        "/webhooks/{id}/enable": {
            "parameters": _path("id"),
            "post": _operation(
                "Enable a webhook again after it was disabled",
                "enableWebhook",
                {"200": _json("The webhook.", _ref("Webhook")), **_MISSING},
                change=True,
            ),
        },
    }


def _list(key: str, items: dict) -> dict:
    return {
        "type": "object",
        "required": [key],
        "properties": {key: {"type": "array", "items": items}},
    }


_LOGIN = {
    "name": {"type": "string"},
    "enabled": {"type": "boolean"},
    "features": _STRINGS,
    "created": {"type": "number"},
    "last_used": {"type": ["number", "null"]},
    "public_url": {"type": ["string", "null"]},
}
_DNS = {
    "domain": {"type": "string"},
    "selector": {"type": "string"},
    "name": {"type": "string", "description": "where to publish the TXT record"},
    "txt": {"type": "string", "description": "the TXT record's value"},
}
_WEBHOOK = {
    "id": {"type": "integer"},
    "url": {"type": "string"},
    "events": _STRINGS,
    "enabled": {"type": "boolean"},
    "disabled_reason": {"type": ["string", "null"]},
    "created": {"type": "number"},
    "last_success": {"type": ["number", "null"]},
    "last_error": {"type": ["string", "null"]},
}
MANAGEMENT_SCHEMAS = {
    "Login": {"type": "object", "required": list(_LOGIN), "properties": _LOGIN},
    "LoginWithPassword": {
        "type": "object",
        "required": ["name", "password", "features"],
        "properties": {**_LOGIN, "password": {"type": "string"}},
    },
    "Token": {
        "type": "object",
        "required": ["name", "scope", "created", "last_used"],
        "properties": {
            "name": {"type": "string"},
            "scope": {"type": "string", "enum": ["read", "admin"]},
            "created": {"type": "number"},
            "last_used": {"type": ["number", "null"]},
        },
    },
    "TokenMade": {
        "type": "object",
        "required": ["name", "token", "scope"],
        "properties": {
            "name": {"type": "string"},
            "token": {"type": "string"},
            "scope": {"type": "string", "enum": ["read", "admin"]},
        },
    },
    "DNSRecord": {"type": "object", "required": list(_DNS), "properties": _DNS},
    "DomainKey": {
        "type": "object",
        "required": [*_DNS, "active", "created"],
        "properties": {**_DNS, "active": {"type": "boolean"}, "created": {"type": "number"}},
    },
    "Domain": {
        "type": "object",
        "required": [*_DNS, "keys"],
        "properties": {**_DNS, "keys": {"type": "array", "items": _ref("DomainKey")}},
    },
    "Webhook": {
        "type": "object",
        "required": list(_WEBHOOK),
        "properties": {
            **_WEBHOOK,
            "deliveries": {
                "description": "In a list: the latest delivery attempts, newest first.",
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["time", "delivery", "event", "type", "attempt", "delivered"],
                    "properties": {
                        "time": {"type": "number"},
                        "delivery": {"type": ["string", "null"]},
                        "event": {"type": "integer"},
                        "type": {"type": "string"},
                        "attempt": {"type": "integer"},
                        "delivered": {"type": "boolean"},
                        "error": {"type": ["string", "null"]},
                    },
                },
            },
        },
    },
    "WebhookMade": {
        "type": "object",
        "required": [*_WEBHOOK, "secret"],
        "properties": {**_WEBHOOK, "secret": {"type": "string"}},
    },
    "Deleted": {"type": "object", "properties": {"deleted": {"type": "boolean"}}},
    "QueueRequest": {
        "type": "object",
        "required": ["qid", "action", "status"],
        "properties": {
            "qid": {"type": "string"},
            "action": {"type": "string", "enum": ["retry", "delete", "release"]},
            "status": {"type": "string", "enum": ["requested"]},
        },
    },
    "DomainCheck": {
        "type": "object",
        "required": ["domain", "ok", "records"],
        "properties": {
            "domain": {"type": "string"},
            "ok": {"type": "boolean"},
            "records": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["kind", "name", "type", "expected", "found", "ok", "problem"],
                    "properties": {
                        "kind": {"type": "string", "enum": ["dkim", "spf", "bounce", "click"]},
                        "name": {"type": "string"},
                        "type": {"type": "string"},
                        "expected": {"type": "string"},
                        "found": _STRINGS,
                        "ok": {"type": "boolean"},
                        "problem": {"type": ["string", "null"]},
                    },
                },
            },
        },
    },
}


def document() -> dict:
    """The document: every operation of L{_operations}, with what any may answer."""
    made = _operations()
    made["paths"] = _withChannelAnswers(made["paths"]) | _health()
    return made


def _operations() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "smtpeter REST API",
            "version": "1",
            "description": (
                "What happened to the mail sent through an smtpeter gateway (attempts,"
                " deliveries, failures, bounces, clicks and opens), and everything the"
                " `smtpeter` command manages (SMTP logins, API tokens, sender domains,"
                " webhooks, the suppression list). Authenticate with"
                " `Authorization: Bearer TOKEN`; make a token with `smtpeter token create"
                " NAME`, and one that may change things with `--scope admin`."
            ),
        },
        "servers": [{"url": "/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/events": {
                "get": {
                    "summary": "Events, oldest first, filtered and paginated",
                    "operationId": "listEvents",
                    "parameters": [
                        _query(
                            "messageid",
                            "message id (20 hexadecimal characters)",
                            {"type": "string", "pattern": "^[0-9A-Fa-f]{20}$"},
                        ),
                        _query("email", "recipient address (case-insensitive)"),
                        _query("tag", "a tag the message carried"),
                        _query("start", f"events at or after this time: {_TIME}"),
                        _query("end", f"events before this time: {_TIME}"),
                        _query("type", "kind of event", {"type": "string", "enum": list(TYPES)}),
                        _query(
                            "limit",
                            "most events in one answer (default 100)",
                            {"type": "integer", "minimum": 1, "maximum": 1000},
                        ),
                        _query("cursor", "the next_cursor of the previous answer"),
                    ],
                    "responses": {
                        "200": {
                            "description": "A page of events.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/EventPage"}
                                }
                            },
                        },
                        **_ERRORS,
                    },
                }
            },
            "/messages/{messageid}": {
                "parameters": [
                    {
                        "name": "messageid",
                        "in": "path",
                        "required": True,
                        "schema": _MESSAGEID,
                        "description": "the id in the gateway's '250 Ok: queued as' reply",
                    }
                ],
                "get": {
                    "summary": "One message: envelope, tags, options, status per recipient",
                    "operationId": "getMessage",
                    "responses": {
                        "200": {
                            "description": "The message.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Message"}
                                }
                            },
                        },
                        **_ERRORS,
                        "404": _error("No such message (or older than the retention period)."),
                    },
                },
                "delete": _operation(
                    "Drop held mail (hold mode) undelivered, without a DSN",
                    "dropHeld",
                    {
                        "202": _REQUESTED,
                        "409": _error("The message is not held mail."),
                    },
                    change=True,
                ),
            },
            "/messages/{messageid}/release": {
                "parameters": [{**_path("messageid")[0], "schema": _MESSAGEID}],
                "post": _operation(
                    "Deliver held mail (hold mode) now",
                    "releaseHeld",
                    {
                        "202": _REQUESTED,
                        "409": _error("The message is not held mail."),
                    },
                    change=True,
                ),
            },
            **_management(),
            "/stats": {
                "get": {
                    "summary": "Counts per hour or day: accepted, delivered, deferred, failed,"
                    " bounced by class, opened, clicked",
                    "operationId": "getStats",
                    "parameters": [
                        _query(
                            "start",
                            f"from this time (whole hours): {_TIME} [default: a day"
                            " or, by day, 30 days before end]",
                        ),
                        _query("end", f"until this time: {_TIME} [default: now]"),
                        _query(
                            "by",
                            "hour or day [default: hour]",
                            {"type": "string", "enum": ["hour", "day"]},
                        ),
                        _query("login", "only mail of this SMTP login"),
                        _query("tag", "only mail with this tag"),
                        _query("domain", "only mail from this sender domain (its From header)"),
                    ],
                    "responses": {
                        "200": _json(
                            "Every bucket of the range, with the counts of each kind that"
                            " occurred (bounces as bounced:CLASS), and the totals.",
                            {
                                "type": "object",
                                "required": ["by", "series", "totals"],
                                "properties": {
                                    "by": {"type": "string", "enum": ["hour", "day"]},
                                    "series": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["time", "timestamp", "counts"],
                                            "properties": {
                                                "time": {"type": "string", "format": "date-time"},
                                                "timestamp": {"type": "number"},
                                                "counts": {"type": "object"},
                                            },
                                        },
                                    },
                                    "totals": {"type": "object"},
                                },
                            },
                        ),
                        **_ERRORS,
                    },
                }
            },
            "/suppressions": {
                "get": {
                    "summary": "The suppression list: addresses mail is not attempted to",
                    "operationId": "listSuppressions",
                    "responses": {
                        "200": _json(
                            "Every entry in force, oldest first.",
                            {
                                "type": "object",
                                "required": ["suppressions"],
                                "properties": {
                                    "suppressions": {"type": "array", "items": _SUPPRESSION}
                                },
                            },
                        ),
                        **_ERRORS,
                    },
                },
                "post": {
                    "summary": "Suppress an address",
                    "operationId": "addSuppression",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["email"],
                                    "properties": {
                                        "email": {"type": "string", "maxLength": 320},
                                        "reason": {
                                            "type": "string",
                                            "minLength": 1,
                                            "maxLength": 200,
                                        },
                                        "days": {
                                            "type": "number",
                                            "minimum": 0,
                                            "maximum": 36500,
                                            "description": "how long; 0 or absent: for ever",
                                        },
                                    },
                                    "additionalProperties": False,
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": _json("The entry, as the list now holds it.", _SUPPRESSION),
                        **_ERRORS,
                        "403": _error("The token may only read: changes need an admin token."),
                    },
                },
            },
            "/suppressions/{email}": {
                "parameters": [
                    {"name": "email", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "get": {
                    "summary": "Whether an address is suppressed, and why",
                    "operationId": "getSuppression",
                    "responses": {
                        "200": _json("The entry.", _SUPPRESSION),
                        **_ERRORS,
                        "404": _error("The address is not suppressed."),
                    },
                },
                "delete": {
                    "summary": "Take an address off the list: mail to it is attempted again",
                    "operationId": "deleteSuppression",
                    "responses": {
                        "200": _json(
                            "Deleted.",
                            {
                                "type": "object",
                                "properties": {
                                    "email": {"type": "string"},
                                    "deleted": {"type": "boolean"},
                                },
                            },
                        ),
                        **_ERRORS,
                        "403": _error("The token may only read: changes need an admin token."),
                        "404": _error("The address is not suppressed."),
                    },
                },
            },
            "/logfiles/{type}": {
                "get": {
                    "summary": "One day of one kind of event, streamed",
                    "operationId": "getLogfile",
                    "parameters": [
                        {
                            "name": "type",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "enum": list(TYPES)},
                        },
                        {
                            "name": "date",
                            "in": "query",
                            "required": True,
                            "description": "the day (UTC), YYYY-MM-DD",
                            "schema": {"type": "string", "format": "date"},
                        },
                        _query(
                            "format",
                            "json (an array of events) or csv (a header line, then one line"
                            " per event) [default: json]",
                            {"type": "string", "enum": ["json", "csv"]},
                        ),
                    ],
                    "responses": {
                        "200": {
                            "description": "The day's events.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Event"},
                                    }
                                },
                                "text/csv": {"schema": {"type": "string"}},
                            },
                        },
                        **_ERRORS,
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                **MANAGEMENT_SCHEMAS,
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {"type": "string"},
                        "parameter": {"type": "string"},
                    },
                },
                "Event": {
                    "type": "object",
                    "description": (
                        "Common fields, then the fields of its kind: attempt (sender,"
                        " features, login, notify, dsn); delivery (attempt, code, status,"
                        " state, host, text); failure (the same and permanent: false while"
                        " it is retried); bounce (class: hard, soft, auto-reply, complaint,"
                        " success or unknown; action, status, diagnostic, reporting_mta,"
                        " forwarded, from, subject, mime); click (url, destination, link,"
                        " ip, user_agent, headers, machine, machine_reason); open (first,"
                        " number, ip, user_agent, headers, machine, machine_reason)."
                    ),
                    "required": ["id", "type", "time", "timestamp", "messageid", "email", "tags"],
                    "properties": {
                        "id": {"type": "integer"},
                        "type": {"type": "string", "enum": list(TYPES)},
                        "time": {"type": "string", "format": "date-time"},
                        "timestamp": {"type": "number"},
                        "messageid": {"type": "string"},
                        "email": {"type": "string"},
                        "tags": {"type": "array", "items": {"type": "string"}},
                    },
                    "additionalProperties": True,
                },
                "EventPage": {
                    "type": "object",
                    "required": ["events", "next_cursor"],
                    "properties": {
                        "events": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Event"},
                        },
                        "next_cursor": {
                            "type": ["string", "null"],
                            "description": "pass as cursor for the next page; null at the end",
                        },
                    },
                },
                "Message": {
                    "type": "object",
                    "required": [
                        "messageid",
                        "received",
                        "envelope",
                        "tags",
                        "options",
                        "recipients",
                    ],
                    "properties": {
                        "messageid": {"type": "string"},
                        "received": {"type": "string", "format": "date-time"},
                        "envelope": {
                            "type": "object",
                            "required": ["sender", "recipients"],
                            "properties": {
                                "sender": {"type": "string"},
                                "recipients": {"type": "array", "items": {"type": "string"}},
                                "ret": {"type": ["string", "null"]},
                                "envid": {"type": ["string", "null"]},
                            },
                        },
                        "message_id_header": {
                            "type": ["string", "null"],
                            "description": "the Message-ID header, as sent or as added",
                        },
                        "held": {
                            "type": "boolean",
                            "description": "kept by a login in hold mode, not yet delivered",
                        },
                        "content": {
                            "type": "string",
                            "description": "held mail only: the message as kept (first MiB)",
                        },
                        "content_truncated": {"type": "boolean"},
                        "subject": {"type": ["string", "null"]},
                        "from": {"type": ["string", "null"], "description": "the From header"},
                        "size": {"type": ["integer", "null"], "description": "bytes"},
                        "login": {"type": ["string", "null"]},
                        "tags": {"type": "array", "items": {"type": "string"}},
                        "options": {"type": "object"},
                        "dsn": {"type": "boolean"},
                        "recipients": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["email", "status"],
                                "properties": {
                                    "email": {"type": "string"},
                                    "status": {
                                        "type": "string",
                                        "enum": [
                                            "queued",
                                            "deferred",
                                            "delivered",
                                            "failed",
                                            "bounced",
                                        ],
                                    },
                                    "attempts": {"type": "integer"},
                                    "clicks": {"type": "integer"},
                                    "opens": {"type": "integer"},
                                },
                            },
                        },
                    },
                },
            },
        },
    }


def text() -> str:
    return json.dumps(document(), indent=2) + "\n"
