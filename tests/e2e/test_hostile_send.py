"""
POST /v1/send and its tokens against a hostile client, on the real gateway
(two workers, SQLite), one gateway for the module: a message/rfc822 body
carrying SMTP smuggling's <CR>.<CR> arrives as one message with no bare CR;
an encoded word that decodes to a line break is refused; an Idempotency-Key
reused with another body is 422 (the key kept in the database); a send
token does not come back to life for a new login of its deleted login's
name. The unit tests: tests/web/test_send_hostile*.py.
"""

from __future__ import annotations

import json

import pytest
import requests

from smtpeter.testing import SinkServer

from ..conftest import Gateway, eventually


class World:
    def __init__(self, gateway: Gateway, sink: SinkServer) -> None:
        self.gateway = gateway
        self.sink = sink
        gateway.cli("domain", "add", "example.com")
        gateway.createLogin("app")
        self.token = self.make("shop", "app")

    def make(self, name: str, login: str) -> str:
        made = self.gateway.cli(
            "token", "create", name, "--scope", "send", "--login", login, "--json"
        )
        return json.loads(made.stdout)["token"]

    def post(self, code: int, token: str | None = None, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {token or self.token}", **kwargs.pop("headers", {})}
        response = requests.post(
            self.gateway.web + "/v1/send" + kwargs.pop("query", ""),
            headers=headers,
            timeout=30,
            **kwargs,
        )
        assert response.status_code == code, response.text
        return response

    def arrived(self, marker: bytes) -> list:
        return [m for m in self.sink.messages if marker in m.data]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    sink = SinkServer(dsn=True).start()  # (so that ORCPT goes out)
    gateway = Gateway(tmp_path_factory.mktemp("hostile-send") / "data", sink.port).start()
    try:
        yield World(gateway, sink)
    finally:
        gateway.stop()
        sink.stop()


def test_smuggled_end_of_data_arrives_as_one_message_without_bare_cr(world):
    mime = (
        b"From: news@example.com\r\nSubject: smuggle-1\r\n\r\nhi\r.\r"
        b"MAIL FROM:<ceo@bank.example>\r\nRCPT TO:<ann@example.org>\r\nDATA\r\n"
        b"From: ceo@bank.example\r\n\r\npay now\r\n"
    )
    world.post(
        202,
        data=mime,
        headers={"Content-Type": "message/rfc822"},
        query="?recipient=ann@example.org",
    )
    [message] = eventually(lambda: world.arrived(b"smuggle-1"), 30, "the message")
    assert message.mailFrom == "news@example.com"
    assert message.data.count(b"\r") == message.data.count(b"\r\n")
    assert not [m for m in world.sink.messages if m.mailFrom == "ceo@bank.example"]


def test_an_encoded_line_break_in_the_subject_is_refused(world):
    body = {
        "from": "news@example.com",
        "to": "ann@example.org",
        "subject": "=?utf-8?q?hi=0D=0ABcc:_evil@example.net?=",
        "text": "x",
    }
    assert world.post(400, json=body).json()["parameter"] == "subject"


def test_a_key_reused_with_another_body_is_422(world):
    key = {"Idempotency-Key": "hostile-1"}
    body = {"from": "news@example.com", "to": "ann@example.org", "text": "x"}
    first = world.post(202, json={**body, "subject": "idem-1"}, headers=key).json()
    assert world.post(202, json={**body, "subject": "idem-1"}, headers=key).json() == first
    answer = world.post(422, json={**body, "subject": "idem-2"}, headers=key).json()
    assert answer["parameter"] == "Idempotency-Key"
    eventually(lambda: world.arrived(b"idem-1"), 30, "the first message")
    assert not world.arrived(b"idem-2")


def test_a_token_of_a_deleted_login_stays_dead_for_a_new_login_of_its_name(world):
    world.gateway.createLogin("gone")
    token = world.make("gone-token", "gone")
    body = {"from": "news@example.com", "to": "ann@example.org", "text": "x"}
    world.post(202, token=token, json=body)
    world.gateway.cli("login", "delete", "gone")
    world.gateway.createLogin("gone")
    assert "since deleted" in world.post(403, token=token, json=body).json()["error"]


def test_an_orcpt_type_cannot_write_smtp_commands(world):
    """dsn.orcpt's type went into the next hop's RCPT command as it was given."""
    for kind in ("rfc822\r\nRSET\r\nMAIL FROM:<ceo@bank.example>\r\nX-", "rfc822 NOTIFY=NEVER", ""):
        body = {
            "from": "news@example.com",
            "to": "ann@example.org",
            "subject": "orcpt-1",
            "text": "x",
            "dsn": {"orcpt": f"{kind};ann@example.org"},
        }
        assert world.post(400, json=body).json()["parameter"] == "dsn"
    body["dsn"] = {"orcpt": "utf-8;ann@example.org"}
    body["subject"] = "orcpt-2"
    world.post(202, json=body)
    eventually(lambda: world.arrived(b"orcpt-2"), 30, "the message")
    assert not [m for m in world.sink.messages if m.mailFrom == "ceo@bank.example"]
    assert not world.arrived(b"orcpt-1")
