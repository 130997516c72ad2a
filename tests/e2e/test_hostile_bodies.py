"""
Security regression: an unauthenticated client could make the gateway read
a body of any size (300 MB spooled to a temporary file, then 401). Now the
headers are judged first, on every HTTP listener: a body larger than the
listener's ceiling is 413 at once, an API request without a token 401 at
once, and a chunked body is cut off where it passes the ceiling. The
worker's memory and open files, read from /proc while 50 MB stream at it,
stay where they were.
"""

from __future__ import annotations

import json
import os
import socket
import time

import pytest

from .test_hostile_login import workerHolding

HUGE = 314_572_800


def headersOnly(port: int, head: str, timeout: float = 5.0) -> tuple[bytes, float]:
    """Send a request's headers and no body; the whole answer, and how long it took to close."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head.encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer, time.monotonic() - started


def post(path: str, length: int, *headers: str) -> str:
    return "".join(
        [
            f"POST {path} HTTP/1.1\r\nHost: gw.test\r\nContent-Length: {length}\r\n",
            "Content-Type: application/json\r\n",
            *(h + "\r\n" for h in headers),
            "\r\n",
        ]
    )


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def body(answer: bytes) -> dict:
    return json.loads(answer.split(b"\r\n\r\n", 1)[1])


@pytest.mark.e2e
def test_huge_bodies_and_missing_tokens_are_refused_before_the_body_is_read(gateway):
    admin = json.loads(gateway.cli("token", "create", "ops", "--scope", "admin", "--json").stdout)
    # The reproduction: no token, 300 MB announced, none sent.
    answer, took = headersOnly(gateway.httpPort, post("/v1/logins", HUGE))
    assert status(answer) == 401 and took < 2, (answer, took)
    assert "Bearer" in body(answer)["error"]
    # A token that is no token: refused as soon as the store says so.
    answer, took = headersOnly(
        gateway.httpPort, post("/v1/logins", 1000, "Authorization: Bearer spt_" + "x" * 43)
    )
    assert status(answer) == 401 and took < 2, (answer, took)
    assert body(answer) == {"error": "unknown or revoked token"}
    # With a good token, the size alone.
    answer, took = headersOnly(
        gateway.httpPort, post("/v1/logins", HUGE, f"Authorization: Bearer {admin['token']}")
    )
    assert status(answer) == 413 and took < 2, (answer, took)
    assert body(answer) == {"error": "the body is larger than 1 MiB"}
    # Every path of the listener, and the dashboard's log-in form.
    answer, took = headersOnly(gateway.httpPort, post("/c/anything", HUGE))
    assert status(answer) == 413 and took < 2
    answer, took = headersOnly(gateway.dashboardPort, post("/login", HUGE))
    assert status(answer) == 413 and took < 2
    assert answer.endswith(b"the body is larger than 64 KiB\n")
    # A body within bounds is still read and answered as before.
    answer, _ = headersOnly(
        gateway.httpPort,
        post("/v1/logins", 2, f"Authorization: Bearer {admin['token']}", "Connection: close")
        + "{}",
    )
    assert status(answer) == 400 and "name" in body(answer)["error"]
    assert json.loads(gateway.cli("login", "list", "--json").stdout) == []


def usage(pid: int) -> tuple[int, int, list[str]]:
    """
    A worker's resident memory (kB), how many files it holds open, and which
    of them are temporary files (a request body spooled to disk).
    """
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    files = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            files.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except FileNotFoundError:
            continue
    spooled = [f for f in files if f.startswith("/tmp/#") and f.endswith("(deleted)")]
    return rss, len(files), spooled


def stream(gateway, port: int, head: str, total: int = 50 << 20) -> dict:
    """
    Stream up to C{total} bytes of chunked body after C{head}, sampling the
    worker that took the connection; what was sent and the largest usage seen.
    """
    before = {pid: usage(pid) for pid in gateway.workerPids()}
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    pid = gateway.workerPids()[workerHolding(gateway, sock, port) - 1]
    sock.sendall(head.encode())
    rss, files, spooled = before[pid]
    seen = {"sent": 0, "rss": rss, "files": files, "spooled": spooled}
    seen.update(peakRss=rss, peakFiles=files, peakSpooled=len(spooled))
    piece = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
    try:
        while seen["sent"] < total:
            sock.sendall(piece)
            seen["sent"] += 65536
            if seen["sent"] % (1 << 20) == 0:
                rss, files, spooled = usage(pid)
                seen["peakRss"] = max(seen["peakRss"], rss)
                seen["peakFiles"] = max(seen["peakFiles"], files)
                seen["peakSpooled"] = max(seen["peakSpooled"], len(spooled))
    except OSError:
        pass  # the gateway closed the connection
    finally:
        sock.close()
    time.sleep(0.2)
    seen["after"] = usage(pid)
    return seen


@pytest.mark.e2e
@pytest.mark.parametrize("listener", ["http", "dashboard"])
def test_a_chunked_body_is_cut_off_at_the_ceiling_with_memory_and_files_bounded(gateway, listener):
    if listener == "http":
        token = json.loads(
            gateway.cli("token", "create", "ops", "--scope", "admin", "--json").stdout
        )["token"]
        port, path, auth = gateway.httpPort, "/v1/logins", f"Authorization: Bearer {token}\r\n"
    else:
        port, path, auth = gateway.dashboardPort, "/login", ""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n{auth}"
        "Content-Type: application/json\r\n\r\n"
    )
    seen = stream(gateway, port, head)
    # Cut off after about the ceiling (plus what the sockets' buffers held),
    # far from the 50 MB offered.
    assert seen["sent"] < 16 << 20, seen
    assert seen["peakRss"] - seen["rss"] < 16 * 1024, seen
    # At most the one body being read (up to the ceiling) is spooled to a
    # file while it comes, and none is left open after.
    assert seen["spooled"] == [] and seen["peakSpooled"] <= 1, seen
    assert seen["after"][2] == [], seen
    assert seen["peakFiles"] <= seen["files"] + 4, seen
