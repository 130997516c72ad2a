"""GET /healthz and the web side's answers to a full disk or a damaged database."""

from __future__ import annotations

import json
import sqlite3

from twisted.internet.defer import succeed
from twisted.web.test.requesthelper import DummyRequest

from smtpeter.runtime import DiskFull
from smtpeter.web._resources import AsyncLeaf
from smtpeter.web._tracking import Health


class Problems:
    def __init__(self, problems: list[str]) -> None:
        self.found = problems

    def problems(self):
        return succeed(list(self.found))


def render(resource, method=b"GET"):
    request = DummyRequest([b""])
    request.method = method
    request.code = 200  # as twisted.web.server.Request has it
    resource.render(request)
    assert request.finished
    return request.responseCode, json.loads(b"".join(request.written))


def test_healthy_is_200_ok_as_before():
    assert render(Health(None, Problems([]))) == (200, {"status": "ok"})


def test_unhealthy_is_503_with_every_problem():
    problems = ["database x is damaged", "the disk holding d is full"]
    code, body = render(Health(None, Problems(problems)))
    assert code == 503 and body["status"] == "unhealthy" and body["problems"] == problems
    assert body["error"] == "; ".join(problems)


class Failing(AsyncLeaf):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    async def handle(self, request):
        raise self.error


def test_a_full_disk_is_507_naming_it(tmp_path):
    code, body = render(Failing(DiskFull(tmp_path)))
    assert code == 507 and body["error"].startswith(f"the disk holding {tmp_path} is full")


def test_a_damaged_database_is_503_not_500(tmp_path):
    damaged = tmp_path / "x.sqlite"
    damaged.write_bytes(b"\x01" * 4096)
    try:
        sqlite3.connect(damaged).execute("SELECT * FROM sqlite_master")
    except sqlite3.DatabaseError as e:
        error = e
    code, body = render(Failing(error))
    assert code == 503 and "damaged" in body["error"]
    assert render(Failing(ValueError("bug")))[0] == 500
