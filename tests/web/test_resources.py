"""The one place the API reads JSON bodies, and the OpenAPI document's shape."""

from __future__ import annotations

import io
import math
import re

import pytest

from smtpeter.web._openapi import document
from smtpeter.web._resources import MAX_DEPTH, HTTPError, fields, readJSON


class Request:
    def __init__(self, body: bytes) -> None:
        self.content = io.BytesIO(body)


def refused(body: bytes) -> HTTPError:
    with pytest.raises(HTTPError) as caught:
        readJSON(Request(body))
    assert caught.value.code == 400
    return caught.value


def test_bodies_nested_too_deep_are_400s_not_recursion_errors():
    for body in (b"[" * 100_000, b'{"a":' * 5000 + b"1" + b"}" * 5000):
        assert "deep" in str(refused(body))
    deepest = b'{"a":' + b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1) + b"}"
    assert isinstance(readJSON(Request(deepest))["a"], list)
    assert "deep" in str(refused(b'{"a":' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}"))
    # Brackets inside strings are text, not nesting.
    assert readJSON(Request(b'{"a":"' + b"[" * 1000 + b'\\"{"}'))["a"].startswith("[[")


def test_numbers_no_field_takes_are_refused_by_every_check():
    assert readJSON(Request(b'{"d":' + b"9" * 4000 + b"}"))["d"] == math.inf
    assert readJSON(Request(b'{"d":-' + b"9" * 4000 + b"}"))["d"] == -math.inf
    assert readJSON(Request(b'{"d":12}'))["d"] == 12
    for constant in (b"NaN", b"Infinity", b"-Infinity"):
        # Refused by the name of the field that holds it, however deep.
        for body in (b'{"d":' + constant + b"}", b'{"d":[1,{"e":' + constant + b"}]}"):
            error = refused(body)
            assert error.body == {
                "error": f"d: {constant.decode()} is not a JSON number",
                "parameter": "d",
            }
        assert "not JSON" in str(refused(b"[" + constant + b"]"))
    assert readJSON(Request(b'{"d":"NaN"}'))["d"] == "NaN"  # text is text
    assert "object" in str(refused(b"[]"))
    assert "not JSON" in str(refused(b"\xff"))


def test_unknown_fields_are_named():
    assert fields({"a": 1}, ("a", "b")) == {"a": 1}
    with pytest.raises(HTTPError) as caught:
        fields({"a": 1, "zz": 2}, ("a",))
    assert caught.value.body["parameter"] == "zz"


def test_every_path_parameter_is_defined_for_every_operation():
    for template, item in document()["paths"].items():
        names = set(re.findall(r"\{([^}]+)\}", template))
        for method, operation in item.items():
            if method in ("parameters", "servers"):
                continue
            defined = {
                p["name"]
                for p in item.get("parameters", []) + operation.get("parameters", [])
                if p["in"] == "path"
            }
            assert defined == names, (method, template)


def test_every_operation_names_the_answers_of_the_channel_the_database_and_the_disk():
    for template, item in document()["paths"].items():
        if template in ("/healthz", "/u/{token}"):
            continue
        for method, operation in item.items():
            if method == "parameters":
                continue
            codes = set(operation["responses"])
            assert {"401", "413", "503"} <= codes, (method, template)
            assert ("507" in codes) == (method in ("post", "put", "patch", "delete")), template
    health = document()["paths"]["/healthz"]
    assert health["servers"] == [{"url": "/"}] and health["get"]["security"] == []
    assert set(health["get"]["responses"]) == {"200", "503"}
    # One-click unsubscribe: not under /v1, no credentials, a small body.
    unsubscribe = document()["paths"]["/u/{token}"]
    assert unsubscribe["servers"] == [{"url": "/"}]
    assert unsubscribe["get"]["security"] == unsubscribe["post"]["security"] == []
    assert set(unsubscribe["post"]["responses"]) == {"200", "400", "404", "413", "503", "507"}
