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
    "401": _error("No token, or one that is unknown or revoked."),
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


def document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "smtpeter REST API",
            "version": "1",
            "description": (
                "What happened to the mail sent through an smtpeter gateway: attempts,"
                " deliveries, failures, bounces, clicks and opens. Authenticate with"
                " `Authorization: Bearer TOKEN`; make a token with `smtpeter token create"
                " NAME`."
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
                "get": {
                    "summary": "One message: envelope, tags, options, status per recipient",
                    "operationId": "getMessage",
                    "parameters": [
                        {
                            "name": "messageid",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                            "description": "the id in the gateway's '250 Ok: queued as' reply",
                        }
                    ],
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
                                        "email": {"type": "string"},
                                        "reason": {"type": "string"},
                                        "days": {
                                            "type": "number",
                                            "description": "how long; 0 or absent: for ever",
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": _json("The entry, as the list now holds it.", _SUPPRESSION),
                        **_ERRORS,
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
