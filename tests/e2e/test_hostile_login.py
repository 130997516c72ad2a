"""
Security regressions of logging in, against the real gateway (two
workers): logging out ends that session on the server, in every worker and
after a restart; the log-in throttle holds under 40 parallel attempts, on
the dashboard and over SMTP AUTH; a log-in never redirects to another
site; a form's fields come from its body, never from the query string.
"""

from __future__ import annotations

import http.client
import json
import re
import smtplib
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from .conftest import (
    Answer,
    connection,
    context,
    createAdmin,
    logIn,
    loginForm,
    request,
    workerHolding,
)

LOGIN_FAILED = "dashboard log-in failed"
LOGGED_IN = "dashboard log-in: "


def onEachWorker(gateway, tries: int = 60) -> dict[int, http.client.HTTPConnection]:
    """A dashboard connection to each worker (which worker takes one is the kernel's choice)."""
    found: dict[int, http.client.HTTPConnection] = {}
    for _ in range(tries):
        sock = socket.create_connection(("127.0.0.1", gateway.dashboardPort), timeout=30)
        worker = workerHolding(gateway, sock, gateway.dashboardPort)
        if worker in found:
            sock.close()
            continue
        found[worker] = connection(gateway, sock=sock)
        if len(found) == 2:
            return found
    raise AssertionError(f"only workers {sorted(found)} took connections in {tries} tries")


# 4. Logging out ends the session ---------------------------------------------------------


@pytest.mark.e2e
def test_a_session_logged_out_stays_ended_in_every_worker_and_after_a_restart(makeGateway, sink):
    gateway = makeGateway(sink)
    password = createAdmin(gateway, "boss")
    ended, other = logIn(gateway, "boss", password), logIn(gateway, "boss", password)
    page = request(connection(gateway), "GET", "/tokens", ended)
    assert page.status == 200
    token = page.csrf
    out = request(connection(gateway), "POST", "/logout", ended, {"csrf": token})
    assert (out.status, out.location) == (303, "/login")
    assert out.cookies["smtpeter_session"] == ""  # the browser forgets it too
    for worker, conn in onEachWorker(gateway).items():
        # The old cookie, replayed to this worker: no page, no change.
        replayed = request(conn, "GET", "/tokens", ended)
        assert replayed.status == 303, (worker, replayed.status)
        assert replayed.location.startswith("/login?next="), worker
        made = request(conn, "POST", "/tokens", ended, {"csrf": token, "name": f"w{worker}"})
        assert made.status == 403, (worker, made.status, made.body)
        assert "Log in first" in made.body
        # The same user's other session goes on.
        assert request(conn, "GET", "/tokens", other).status == 200, worker
    assert json.loads(gateway.cli("token", "list", "--json").stdout) == []
    gateway.stop()
    gateway.start()
    assert request(connection(gateway), "GET", "/", ended).status == 303
    made = request(connection(gateway), "POST", "/tokens", ended, {"csrf": token, "name": "late"})
    assert made.status == 403
    assert json.loads(gateway.cli("token", "list", "--json").stdout) == []
    assert request(connection(gateway), "GET", "/", other).status == 200


# 5. The log-in throttle under parallel attempts ----------------------------------------------


def _together(actions: list) -> list:
    """Run the C{actions} in threads that start their last step at the same moment."""
    barrier = threading.Barrier(len(actions))
    results: list = [None] * len(actions)

    def run(index: int) -> None:
        prepare, go = actions[index]
        state = prepare()
        barrier.wait(timeout=60)
        results[index] = go(state)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


@pytest.mark.e2e
def test_forty_parallel_dashboard_log_ins_check_no_more_than_five_passwords(makeGateway, sink):
    gateway = makeGateway(sink)
    password = createAdmin(gateway, "boss")
    source = "127.0.0.31"
    right = 39  # the right password comes with the last of them

    def action(index: int):
        def prepare():
            cookies, csrf = loginForm(gateway, source)
            conn = connection(gateway, source)
            conn.connect()
            return conn, cookies, csrf

        def go(state):
            conn, cookies, csrf = state
            guess = password if index == right else f"wrong-{index}"
            form = {"csrf": csrf, "name": "boss", "password": guess, "next": "/"}
            return request(conn, "POST", "/login", cookies, form).status

        return prepare, go

    statuses = _together([action(i) for i in range(40)])
    assert set(statuses) <= {401, 303, 429}, statuses
    # Exactly five of the 39 wrong passwords are told so; the right one got
    # in only if it was counted before the fifth failure; the rest are 429.
    assert statuses.count(401) == 5, statuses
    assert statuses.count(303) <= 1 and statuses.count(429) >= 34, statuses
    # The workers' log agrees: no other failure was acted on.
    gateway.waitForCount(LOGIN_FAILED, 5)
    gateway.waitForCount(LOGGED_IN, statuses.count(303))
    # The limit reached, the right password does not log in now.
    cookies, csrf = loginForm(gateway, source)
    form = {"csrf": csrf, "name": "boss", "password": password, "next": "/"}
    assert request(connection(gateway, source), "POST", "/login", cookies, form).status == 429
    # Another address is not held up.
    logIn(gateway, "boss", password, source="127.0.0.32")


def smtpAuth(gateway, source: str, password):
    """Prepare and go: a connection after STARTTLS, then its AUTH PLAIN as C{password(index)}."""

    def action(index: int):
        def prepare():
            client = smtplib.SMTP(
                "127.0.0.1", gateway.smtpPort, timeout=60, source_address=(source, 0)
            )
            client.starttls(context=context())
            client.ehlo("client.test")
            client.user, client.password = "app", password(index)
            return client

        def go(client):
            try:
                code = client.auth("PLAIN", client.auth_plain)[0]
            except smtplib.SMTPResponseException as e:
                code = e.smtp_code
            client.close()
            return code

        return prepare, go

    return action


@pytest.mark.e2e
def test_forty_parallel_smtp_auths_check_no_more_than_five_passwords(makeGateway, sink):
    gateway = makeGateway(sink)
    password = gateway.createLogin("app")
    source = "127.0.0.33"
    action = smtpAuth(gateway, source, lambda i: password if i == 39 else f"wrong-{i}")
    codes = _together([action(i) for i in range(40)])
    assert set(codes) <= {535, 454, 235}, codes
    assert codes.count(535) == 5, codes
    assert codes.count(235) <= 1 and codes.count(454) >= 34, codes
    assert gateway.logText().count("failed AUTH as 'app'") == 5
    # The limit reached, the right password does not get in now.
    client = smtplib.SMTP("127.0.0.1", gateway.smtpPort, timeout=30, source_address=(source, 0))
    client.starttls(context=context())
    client.ehlo("client.test")
    with pytest.raises(smtplib.SMTPResponseException) as refused:
        client.login("app", password)
    assert refused.value.smtp_code == 454
    client.close()


@pytest.mark.e2e
def test_forty_parallel_smtp_auths_with_the_right_password_all_get_in(makeGateway, sink):
    # An application opening many connections at once from one address
    # (as bench/submit.py does) is not held up by the throttle.
    gateway = makeGateway(sink)
    password = gateway.createLogin("app")
    action = smtpAuth(gateway, "127.0.0.34", lambda i: password)
    assert _together([action(i) for i in range(40)]) == [235] * 40


@pytest.mark.e2e
def test_a_right_password_refused_by_the_throttle_is_no_log_in_and_no_use(makeGateway, sink):
    # Without delays, five failures are quick; the ban is the same.
    gateway = makeGateway(sink, "--auth-failure-delays", "0")
    adminPassword = createAdmin(gateway, "boss")
    loginPassword = gateway.createLogin("app")

    def tryDashboard(password: str, source: str = "127.0.0.35") -> int:
        cookies, csrf = loginForm(gateway, source)
        form = {"csrf": csrf, "name": "boss", "password": password, "next": "/"}
        return request(connection(gateway, source), "POST", "/login", cookies, form).status

    def trySmtp(password: str, source: str = "127.0.0.35") -> int:
        prepare, go = smtpAuth(gateway, source, lambda i: password)(0)
        return go(prepare())

    def lastLogin() -> float | None:
        [user] = json.loads(gateway.cli("admin", "list", "--json").stdout)
        return user["last_login"]

    def lastUsed() -> float | None:
        [login] = json.loads(gateway.cli("login", "list", "--json").stdout)
        return login["last_used"]

    assert [tryDashboard(f"wrong-{i}") for i in range(5)] == [401] * 5
    assert tryDashboard(adminPassword) == 429
    assert lastLogin() is None
    assert [trySmtp(f"wrong-{i}") for i in range(5)] == [535] * 5
    assert trySmtp(loginPassword) == 454
    assert lastUsed() is None
    # From an address that is not banned, the same passwords log in, and are noted.
    assert tryDashboard(adminPassword, "127.0.0.36") == 303
    assert trySmtp(loginPassword, "127.0.0.36") == 235
    deadline = time.monotonic() + 10  # last use is written behind the answer
    while lastUsed() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert lastLogin() is not None and lastUsed() is not None


@pytest.mark.e2e
def test_odd_form_values_and_path_ids_are_never_a_500(gateway):
    # The red team's dashboard fuzzing: every form post with a non-ASCII
    # value was a 500 ("Something went wrong"), whatever the form.
    password = createAdmin(gateway, "boss")
    gateway.createLogin("NAME")
    cookies = logIn(gateway, "boss", password)
    page = request(connection(gateway), "GET", "/tokens", cookies)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.body).group(1)
    forms = [
        "/logins",
        "/logins/NAME",
        "/domains",
        "/webhooks",
        "/tokens",
        f"/webhooks/{'9' * 30}/test",
        f"/webhooks/{'9' * 30}/enable",
        "/webhooks/-1/test",
        "/webhooks/%00/test",
        "/domains/%ff/rotate",
        "/domains/a%2Fb/delete",
        "/logins/%00/delete",
    ]
    answers = {}
    for path in forms:
        for value in ("%ff%fe", "%ED%A0%80", "caf%C3%A9", "9" * 40):
            body = f"csrf={csrf}&name={value}&domain={value}&url={value}&events=delivery"
            conn = connection(gateway)
            conn.request(
                "POST",
                path,
                body,
                {
                    "Cookie": f"smtpeter_session={cookies['smtpeter_session']}",
                    "Content-Type": "application/x-www-form-urlencoded",
                },
            )
            answer = Answer(conn.getresponse())
            answers[path, value] = answer
            assert answer.status < 500, (path, value, answer.status, answer.body[:300])
    for action in ("test", "enable"):
        assert answers[f"/webhooks/{'9' * 30}/{action}", "9" * 40].status == 404
    # A field that is not UTF-8 is refused by name (a browser sends nothing else).
    for value in ("%ff%fe", "%ED%A0%80"):
        answer = answers["/logins", value]
        assert answer.status == 400 and "name: not UTF-8 text" in answer.body, answer.body
    assert answers["/logins", "caf%C3%A9"].status == 201  # a 500 before: it is not ASCII
    assert "Something went wrong" not in gateway.logText()


# 7. No redirect to another site after log-in ----------------------------------------------


@pytest.mark.e2e
def test_a_log_in_sends_the_browser_only_to_a_path_of_this_site(gateway):
    password = createAdmin(gateway, "boss")
    session = logIn(gateway, "boss", password)
    for next in (
        "/%09/evil.example/",
        "//evil.example/",
        "/%5Cevil.example",
        "https://evil.example/",
    ):
        answer = request(connection(gateway), "GET", f"/login?next={next}", session)
        assert (answer.status, answer.location) == (303, "/"), next
    kept = request(
        connection(gateway), "GET", "/login?next=%2Factivity%3Fstatus%3Dbounced", session
    )
    assert (kept.status, kept.location) == (303, "/activity?status=bounced")
    # The form carries the same check, and so does its post.
    cookies, csrf = loginForm(gateway)
    form = request(connection(gateway), "GET", "/login?next=/%09/evil.example/", cookies)
    assert 'name="next" value="/"' in form.body
    posted = request(
        connection(gateway),
        "POST",
        "/login",
        cookies,
        {"csrf": csrf, "name": "boss", "password": password, "next": "/\t/evil.example/"},
    )
    assert (posted.status, posted.location) == (303, "/")


# 9. Form fields from the body only -------------------------------------------------------


@pytest.mark.e2e
def test_a_form_token_in_the_query_string_is_not_a_form_token(gateway):
    password = createAdmin(gateway, "boss")
    session = logIn(gateway, "boss", password)
    token = request(connection(gateway), "GET", "/tokens", session).csrf
    # The reproduction: everything in the query string, an empty body.
    answer = request(connection(gateway), "POST", f"/tokens?csrf={token}&name=x", session, {})
    assert answer.status == 403 and "security token" in answer.body
    answer = request(connection(gateway), "POST", f"/tokens?csrf={token}", session, {"name": "y"})
    assert answer.status == 403
    # The field is named by the body only, too.
    answer = request(
        connection(gateway), "POST", "/tokens?name=fromquery", session, {"csrf": token}
    )
    assert answer.status == 400  # "a token needs a name", not a token named from the query
    assert json.loads(gateway.cli("token", "list", "--json").stdout) == []
    made = request(connection(gateway), "POST", "/tokens", session, {"csrf": token, "name": "z"})
    assert made.status == 201
    assert [t["name"] for t in json.loads(gateway.cli("token", "list", "--json").stdout)] == ["z"]


def test_a_password_reset_or_a_deletion_ends_every_session_of_that_user(gateway):
    password = createAdmin(gateway, "boss")
    sessions = [logIn(gateway, "boss", password) for _ in range(2)]
    bystander = logIn(gateway, "other", createAdmin(gateway, "other"))
    for cookies in (*sessions, bystander):
        assert request(connection(gateway), "GET", "/tokens", cookies).status == 200
    gateway.cli("admin", "reset-password", "boss")
    for cookies in sessions:
        assert request(connection(gateway), "GET", "/tokens", cookies).status == 303
    assert request(connection(gateway), "GET", "/tokens", bystander).status == 200
    # Deleted, then made again by the same name (its sessions' generation
    # is 1 again): the old session stays ended.
    kept = logIn(gateway, "gone", createAdmin(gateway, "gone"))
    assert request(connection(gateway), "GET", "/tokens", kept).status == 200
    gateway.cli("admin", "delete", "gone")
    assert request(connection(gateway), "GET", "/tokens", kept).status == 303
    createAdmin(gateway, "gone")
    page = request(connection(gateway), "GET", "/tokens", kept)
    assert page.status == 303 and page.location.startswith("/login"), page.status
    assert request(connection(gateway), "GET", "/tokens", bystander).status == 200


def test_of_twenty_concurrent_deletes_of_a_dashboard_user_exactly_one_succeeds(gateway):
    createAdmin(gateway, "twice")
    with ThreadPoolExecutor(20) as pool:
        done = list(
            pool.map(lambda n: gateway.cli("admin", "delete", n, check=False), ["twice"] * 20)
        )
    assert sorted(d.returncode for d in done) == [0] + [1] * 19, [d.stderr for d in done]
    assert all("no dashboard user named" in d.stderr for d in done if d.returncode)
