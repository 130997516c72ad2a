"""
End to end: clients that hold on without speaking, and clients that never
read their replies, against the real gateway; what they cost it is read
from /proc.
"""

from __future__ import annotations

import os
import socket
import ssl
import time
from pathlib import Path

from ..conftest import eventually
from .conftest import context

CLIENT_HELLO_START = b"\x16\x03\x01\x00\xc8"  # a TLS record header, then nothing


def serving(gateway) -> list[int]:
    """The processes that serve clients: the workers, or the gateway itself with one."""
    return gateway.workerPids() or [gateway.process.pid]


def openConnections(gateway) -> list[str]:
    """The gateway's ends of TCP connections still open (established or closing) on its ports."""
    ports = {gateway.smtpPort, gateway.smtpsPort, gateway.httpPort, gateway.dashboardPort}
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if int(local.split(":")[1], 16) in ports and state in (
            "01",
            "08",
        ):  # ESTABLISHED, CLOSE_WAIT
            found.append(line)
    return found


def fds(gateway) -> int:
    return sum(len(os.listdir(f"/proc/{pid}/fd")) for pid in serving(gateway))


def settledFds(gateway, polls: int = 5) -> int:
    """
    The serving processes' open files once start-up is over: the start-up
    probes' connections gone and the count the same in C{polls} looks 0.1 s apart.
    """
    seen: list[int] = []

    def steady() -> bool:
        seen.append(-1 if openConnections(gateway) else fds(gateway))
        last = seen[-polls:]
        return len(last) == polls and last[0] >= 0 and len(set(last)) == 1

    eventually(steady, 20, "a steady count of open files")
    return seen[-1]


def rss(gateway) -> int:
    """Resident memory of the workers, in bytes."""
    total = 0
    for pid in serving(gateway):
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


def closedByServer(sock: socket.socket, within: float) -> float:
    """Read (and drop) whatever comes until the server ends the connection; return when."""
    started = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - started < within:
        try:
            if not sock.recv(65536):
                return time.monotonic() - started
        except (TimeoutError, ssl.SSLWantReadError):
            continue
        except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
            return time.monotonic() - started
    raise AssertionError(f"the gateway kept the connection open for {within} s")


def readLine(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(1)
        assert chunk, f"closed after {data!r}"
        data += chunk
    return data


def test_silent_and_half_tls_clients_are_dropped(makeGateway, sink):
    # The handshake timeout well under the idle one, so that which of them
    # closed a connection shows in when it was closed, and in the log.
    gateway = makeGateway(
        sink, "--idle-timeout", "6s", "--handshake-timeout", "3s", "--workers", "1", name="silent"
    )
    baseline = settledFds(gateway)
    # 1. implicit TLS, not a byte sent (each timer starts after the time taken here)
    opened = time.monotonic()
    quiet = socket.create_connection(("127.0.0.1", gateway.smtpsPort))
    # 2. STARTTLS, then five bytes of a ClientHello
    half = socket.create_connection(("127.0.0.1", gateway.smtpPort))
    readLine(half)
    half.sendall(b"EHLO c.test\r\n")
    while not readLine(half).startswith(b"250 "):
        pass
    halfStarted = time.monotonic()
    half.sendall(b"STARTTLS\r\n")
    assert readLine(half).startswith(b"220 ")
    half.sendall(CLIENT_HELLO_START)
    # 3. a finished handshake, then neither reading nor closing
    muteOpened = time.monotonic()
    mute = context().wrap_socket(socket.create_connection(("127.0.0.1", gateway.smtpsPort)))
    # All three held at once (each one's files are the gateway's until it drops it).
    eventually(lambda: fds(gateway) >= baseline + 3, 10, "the three connections' files")

    # Dropped by the handshake timeout (3 s), before the idle timeout (6 s).
    closedByServer(quiet, within=10)
    assert 2.5 < (took := time.monotonic() - opened) < 5.5, took
    closedByServer(half, within=10)
    assert 2.5 < (took := time.monotonic() - halfStarted) < 5.5, took
    # Closed (TLS's close_notify) by the idle timeout (6 s); the gateway's
    # end aborted when the client has not closed after a short grace (5 s).
    closedByServer(mute, within=20)
    assert 5.5 < (took := time.monotonic() - muteOpened) < 10, took
    eventually(lambda: fds(gateway) <= baseline, 15, "the files given back")
    log = gateway.waitForLog("its TLS handshake did not finish in time", "did not close in time")
    assert log.count("its TLS handshake did not finish in time") == 2


def test_plain_smtp_on_the_implicit_tls_port_is_dropped_and_logged(gateway):
    plain = socket.create_connection(("127.0.0.1", gateway.smtpsPort), timeout=10)
    plain.sendall(b"EHLO plain.client.test\r\n")
    data = b""
    while chunk := plain.recv(100):  # until the gateway closes
        data += chunk
    plain.close()
    assert b"220" not in data  # the greeting only ever goes through TLS
    log = gateway.waitForLog("TLS failed")
    assert "dropping 127.0.0.1: TLS failed:" in log
    # and the port still serves TLS clients
    tls = context().wrap_socket(socket.create_connection(("127.0.0.1", gateway.smtpsPort)))
    assert readLine(tls).startswith(b"220 ")
    tls.close()


def test_a_client_that_reads_no_replies_is_not_buffered_for(makeGateway, sink):
    gateway = makeGateway(sink, "--workers", "1", name="noread")
    before = rss(gateway)
    flood = socket.create_connection(("127.0.0.1", gateway.smtpPort))
    flood.setblocking(False)
    command = b"EHLO flooding.client.test\r\n" * 4096  # each answered with ~200 bytes
    sent, deadline = 0, time.monotonic() + 4
    while time.monotonic() < deadline:
        try:
            sent += flood.send(command)
        except BlockingIOError:
            time.sleep(0.01)
    # The gateway stopped reading once its replies were stuck: the kernel's
    # buffers filled and the client could not go on sending.
    # (Without that: 10 MiB sent in 4 s, the gateway 37 MiB larger, and growing.)
    assert sent < 12 * 1024 * 1024, sent
    assert rss(gateway) - before < 16 * 1024 * 1024
    # Meanwhile everyone else is served.
    other = socket.create_connection(("127.0.0.1", gateway.smtpPort), timeout=5)
    assert readLine(other).startswith(b"220 ")
    other.close()
    flood.close()


def test_junk_commands_end_in_421(gateway):
    client = socket.create_connection(("127.0.0.1", gateway.smtpPort), timeout=10)
    readLine(client)
    client.sendall(b"NOOP\r\n" * 200)
    replies = [readLine(client) for _ in range(121)]
    # 100 free, then 20 more that count as errors: the 20th error ends it
    assert replies[:120] == [b"250 2.0.0 Ok\r\n"] * 120
    assert replies[120].startswith(b"421 4.7.0 ")
    assert closedByServer(client, within=5) < 5
