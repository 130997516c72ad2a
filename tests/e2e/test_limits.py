"""
End to end, with two workers: a login's rate and quota are counted across
both (one worker refuses once the other's recipients bring the total to
the limit), exactly, however many sessions and sends race on two workers
(or two nodes on PostgreSQL), with refused events in the API and to
webhooks; over a quota a holding login's mail is kept until released;
sender domains refuse an envelope sender or a From: outside them
(lookalikes included) and take their subdomains.
"""

from __future__ import annotations

import http.client
import json
import smtplib
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from ..conftest import eventually
from .conftest import (
    Client,
    Receiver,
    connect,
    documented,
    get,
    oneOnEachWorker,
    subject,
    workerOf,
)

ALLOW_LOCAL = ("--webhook-allow-network", "127.0.0.0/8")


def addLogin(gateway, name: str, *options: str) -> str:
    return json.loads(gateway.cli("login", "add", name, *options, "--json").stdout)["password"]


def usage(gateway, name: str, limit: str) -> int:
    shown = json.loads(gateway.cli("login", "show", name, "--json").stdout)
    return shown["usage"][limit]["used"]


def accept(client: smtplib.SMTP, recipients: list[str], subject: str) -> None:
    client.mail("app@example.com")
    for recipient in recipients:
        assert client.rcpt(recipient)[0] == 250
    code, _ = client.data(f"From: app@example.com\r\nSubject: {subject}\r\n\r\nhi\r\n".encode())
    assert code == 250


def refusedOnce(client: smtplib.SMTP) -> tuple[int, str] | None:
    """One RCPT: its refusal, or None if it was taken (then given back: no DATA)."""
    client.mail("app@example.com")
    code, text = client.rcpt("more@example.org")
    client.rset()
    return None if code == 250 else (code, text.decode())


def notNearTheEndOf(period: int, left: float = 20) -> None:
    """Wait (if need be) until the current window of C{period} seconds has C{left} s left."""
    eventually(
        lambda: period - time.time() % period > left, timeout=left + 5, what="a fresh window"
    )


def test_a_rate_is_counted_across_both_workers_with_refused_events(makeGateway, sink):
    gateway = makeGateway(sink, *ALLOW_LOCAL)
    hook = Receiver(0)
    try:
        gateway.cli("webhook", "add", hook.url, "--event", "refused", *ALLOW_LOCAL)
        password = addLogin(gateway, "app", "--rate", "6/hour")
        notNearTheEndOf(3600)
        clients = oneOnEachWorker(gateway, "127.0.0.1")
        for client in clients.values():
            client.login("app", password)
        accept(clients[1], [f"r{n}@example.org" for n in range(4)], "four")
        accept(clients[2], ["r4@example.org", "r5@example.org"], "two")
        # Each worker learns the other's count within about a second: worker 2
        # took only 2 of the 6, yet refuses too.
        for worker in (1, 2):
            code, text = eventually(
                lambda c=clients[worker]: refusedOnce(c), what=f"worker {worker}"
            )
            assert (code, text[:6]) == (451, "4.7.1 ")
            assert "6/hour" in text
        assert usage(gateway, "app", "rate") == 6
        assert len(sink.wait(2)) == 2
        for client in clients.values():
            client.quit()
        token = json.loads(gateway.cli("token", "create", "ops", "--json").stdout)["token"]

        def refused() -> list[dict]:
            response, body = get(
                gateway, "/v1/events?type=refused", Authorization=f"Bearer {token}"
            )
            page = json.loads(body)
            documented("GET", "/v1/events", response.status, page)
            assert response.status == 200, page
            return page["events"]

        # (Each worker's writer records its refusals; the other may answer.)
        found = eventually(refused, what="the refused events")
        assert {(e["reason"], e["login"], e["status"]) for e in found} == {("rate", "app", "4.7.1")}
        hook.wait(lambda requests: requests)
        event = json.loads(hook.requests[0][1])
        assert event["type"] == "refused" and event["reason"] == "rate"
        assert event["email"] == "more@example.org"
    finally:
        hook.stop()


def test_a_quota_is_counted_across_both_workers(makeGateway, sink):
    gateway = makeGateway(sink)
    password = addLogin(gateway, "app", "--quota", "5/day")
    notNearTheEndOf(86400)
    clients = oneOnEachWorker(gateway, "127.0.0.1")
    for client in clients.values():
        client.login("app", password)
    accept(clients[1], ["a@example.org", "b@example.org", "c@example.org"], "three")
    accept(clients[2], ["d@example.org", "e@example.org"], "two")
    for worker in (1, 2):
        code, text = eventually(lambda c=clients[worker]: refusedOnce(c), what=f"worker {worker}")
        assert (code, text) == (
            550,
            "5.7.1 quota exceeded: this login may send to 5/day recipients",
        )
    assert usage(gateway, "app", "quota") == 5
    assert sorted(subject(m.data) for m in sink.wait(2)) == ["three", "two"]


def test_over_its_quota_a_holding_login_s_mail_is_held_until_released(gateway, sink):
    password = addLogin(gateway, "app", "--quota", "2/day", "--over-quota", "hold")
    notNearTheEndOf(86400)
    token = json.loads(gateway.cli("token", "create", "ops", "--scope", "admin", "--json").stdout)
    api = Client(gateway, token["token"])
    client = connect(gateway, implicit=False)
    client.login("app", password)
    accept(client, ["a@example.org", "b@example.org"], "within")
    client.mail("app@example.com")
    assert client.rcpt("c@example.org")[0] == 250
    code, text = client.data(b"From: app@example.com\r\nSubject: over\r\n\r\nhi\r\n")
    client.quit()
    assert code == 250
    qid = text.decode().rsplit(" ", 1)[1]
    assert subject(sink.wait(1)[0].data) == "within"
    code, shown, _ = api.call("GET", f"/v1/messages/{qid}")
    assert code == 200 and shown["held"] is True
    # Counted once the worker has handed over its count (within a second); held mail is not.
    eventually(lambda: usage(gateway, "app", "quota") == 2, what="the usage counted")
    time.sleep(1.0)  # another exchange: the held recipient would have been counted by now
    assert usage(gateway, "app", "quota") == 2
    assert api.call("POST", f"/v1/messages/{qid}/release")[0] == 202
    assert sorted(subject(m.data) for m in sink.wait(2, timeout=10)) == ["over", "within"]


def test_sender_domains_refuse_outsiders_and_lookalikes(gateway, sink):
    password = addLogin(gateway, "app", "--sender-domain", "example.com")
    client = connect(gateway, implicit=False)
    client.login("app", password)
    for outsider in ("news@example.com.evil.test", "news@evil-example.com", "news@example.org"):
        code, text = client.mail(outsider)
        assert (code, text.decode()) == (
            550,
            f"5.7.1 Sender address <{outsider}> is not in this login's sender domains",
        )
    for header, refused in (
        ("Shop <news@example.com.evil.test>", "news@example.com.evil.test"),
        ("news@evil-example.com", "news@evil-example.com"),
        ('"news@example.com" <x@evil.test>', "x@evil.test"),
    ):
        assert client.mail("bounces@example.com")[0] == 250
        assert client.rcpt("reader@example.org")[0] == 250
        code, text = client.data(f"From: {header}\r\nSubject: spoof\r\n\r\nhi\r\n".encode())
        assert (code, text.decode()) == (
            550,
            f"5.7.1 From: address <{refused}> is not in this login's sender domains",
        )
    client.sendmail(
        "bounces@mail.example.com",
        ["reader@example.org"],
        b"From: Shop <news@shop.example.com>\r\nSubject: fine\r\n\r\nhi\r\n",
    )
    client.quit()
    [arrived] = sink.wait(1)
    assert subject(arrived.data) == "fine"
    gateway.cli("login", "update", "app", "--sender-domain", "none")
    client = connect(gateway, implicit=False)
    client.login("app", password)
    client.sendmail("a@anywhere.test", ["reader@example.org"], b"From: b@else.test\r\n\r\nhi\r\n")
    client.quit()
    assert len(sink.wait(2)) == 2


def post(gateway, path: str, body: dict, token: str):
    connection = http.client.HTTPConnection("127.0.0.1", gateway.httpPort, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connection.request("POST", path, json.dumps(body), headers)
    response = connection.getresponse()
    return response, response.read()


def raced(sessions: list, attempt) -> list:
    """C{attempt(session)} in one thread per session, all let go at once; the answers."""
    barrier = threading.Barrier(len(sessions))

    def run(session):
        barrier.wait(timeout=20)
        return attempt(session)

    with ThreadPoolExecutor(len(sessions)) as pool:
        return list(pool.map(run, sessions))


def parallelSessions(gateway, password: str, n: int, workers: bool = True) -> list[smtplib.SMTP]:
    """C{n} sessions logged in as C{app}, each with a transaction begun (on both C{workers})."""
    sessions = []
    for _ in range(n):
        client = connect(gateway, implicit=False)
        client.login("app", password)
        assert client.mail("app@example.com")[0] == 250
        sessions.append(client)
    assert not workers or len({workerOf(gateway, client) for client in sessions}) == 2
    return sessions


def sendOrRefuse(client: smtplib.SMTP) -> tuple[int, bytes]:
    """One RCPT, and the message if it is taken: the RCPT's answer."""
    code, text = client.rcpt("r@example.org")
    if code == 250:
        assert client.data(b"From: app@example.com\r\nSubject: s\r\n\r\nhi\r\n")[0] == 250
    return code, text


def test_parallel_sessions_on_both_workers_never_beat_a_rate(makeGateway, sink):
    gateway = makeGateway(sink)
    password = addLogin(gateway, "app", "--rate", "10/minute")
    sessions = parallelSessions(gateway, password, 20)
    notNearTheEndOf(60, left=10)  # the race and the usage read take a few seconds
    answers = raced(sessions, sendOrRefuse)
    for client in sessions:
        client.close()
    codes = sorted(code for code, _ in answers)
    assert codes == [250] * 10 + [451] * 10, Counter(codes)
    assert {text[:6] for code, text in answers if code == 451} == {b"4.7.1 "}
    assert usage(gateway, "app", "rate") == 10
    assert len(sink.wait(10)) == 10


def test_parallel_sessions_and_send_requests_never_beat_a_quota(makeGateway, sink):
    gateway = makeGateway(sink)
    password = addLogin(gateway, "app", "--quota", "10/day")
    notNearTheEndOf(86400)
    token = json.loads(
        gateway.cli("token", "create", "shop", "--scope", "send", "--login", "app", "--json").stdout
    )["token"]
    sessions = parallelSessions(gateway, password, 10)
    body = {"from": "app@example.com", "to": "r@example.org", "subject": "s", "text": "hi"}

    def attempt(client):
        if client is None:
            response, _ = post(gateway, "/v1/send", body, token)
            return response.status
        code, _ = client.rcpt("r@example.org")
        if code != 250:
            return code
        return client.data(b"From: app@example.com\r\nSubject: s\r\n\r\nhi\r\n")[0]

    codes = raced([*sessions, *[None] * 10], attempt)
    for client in sessions:
        client.close()
    assert sum(code in (202, 250) for code in codes) == 10, Counter(codes)
    assert set(codes) <= {202, 250, 550, 429, 403}, codes
    assert usage(gateway, "app", "quota") == 10
    assert len(sink.wait(10)) == 10


def test_parallel_sessions_on_two_nodes_never_beat_a_rate(
    makeGateway, sink, postgresDatabase, monkeypatch
):
    monkeypatch.setenv("SMTPETER_DATABASE", postgresDatabase)
    a = makeGateway(sink, "--workers", "1", name="a")
    b = makeGateway(sink, "--workers", "1", name="b")
    password = addLogin(a, "app", "--rate", "10/minute")

    def knows() -> bool:
        client = connect(b, implicit=False)
        try:
            return client.login("app", password)[0] == 235
        except smtplib.SMTPAuthenticationError:
            return False
        finally:
            client.close()

    eventually(knows, what="B knows app")
    sessions = [
        *parallelSessions(a, password, 10, workers=False),
        *parallelSessions(b, password, 10, workers=False),
    ]
    notNearTheEndOf(60, left=10)
    answers = raced(sessions, sendOrRefuse)
    for client in sessions:
        client.close()
    codes = sorted(code for code, _ in answers)
    assert codes == [250] * 10 + [451] * 10, Counter(codes)
    assert usage(b, "app", "rate") == 10
    assert len(sink.wait(10)) == 10
