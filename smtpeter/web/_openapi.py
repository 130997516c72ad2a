"""
The OpenAPI document of the REST API, served at C{/v1/openapi.json}: the
package's C{openapi.json}, shipped as package data and edited as JSON.
C{docs/openapi.json} is the readers' copy; C{tests/web/test_openapi.py}
keeps it equal (C{SMTPETER_REGOLD=1} makes that test rewrite it) and checks
every enumeration in the document against the code's vocabularies.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files


@cache
def text() -> str:
    """The document as shipped, read once."""
    return files(__package__).joinpath("openapi.json").read_text("utf-8")


def document() -> dict:
    """The document, parsed afresh: a caller may change its copy."""
    return json.loads(text())
