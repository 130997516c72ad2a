"""
Helpers for testing smtpeter and things built on it: a receiving SMTP
server that records exactly what arrives and answers as a test scripts it
(L{SinkServer}), L{HTTPResponse}s of a web site read over a transport in
memory (L{serveHTTP}), and the fakes the unit tests share (a clock that
runs what threads hand it, a DNS resolver answering from dicts, the result
of a fired Deferred).

The sink runs in its own threads with plain sockets, independent of any
reactor, so a test can point a real gateway process at it.
"""

from __future__ import annotations

import base64
import itertools
import os
import pwd
import queue
import shutil
import socket
import socketserver
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from attrs import define, field, frozen
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.names import dns


@define
class Received:
    """One transaction as the sink saw it: envelope, raw DATA lines (dots undone)."""

    helo: str
    #: C{None} if the client sent DATA with no MAIL before it (the sink takes it).
    mailFrom: str | None
    mailParams: str
    recipients: list[str]
    data: bytes = field(repr=False)
    tls: bool
    auth: str | None


def _defaultPolicy(stage: str, argument: str) -> str | None:
    return None


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    # A gateway opens a connection for each of its delivery slots at once
    # (ten per worker when it resumes a full queue). socketserver's backlog
    # of 5 overflowed, and a connection whose handshake the kernel finished
    # with a SYN cookie but could not queue for accept() was open on the
    # gateway's side only: it waited for a greeting that never came (the
    # kill -9 test's rare "accepted message lost").
    request_queue_size = 128


@define
class SinkServer:
    """
    A receiving SMTP server on 127.0.0.1. C{policy(stage, argument)} may
    return a reply line (e.g. C{"451 4.3.0 try later"}) for stage C{"MAIL"},
    C{"RCPT"} or C{"DATA"} (after the data), or C{None} for the default 250.
    With C{tlsContext} it offers STARTTLS; with C{dsn} it offers DSN;
    without C{eightBit} it does not offer 8BITMIME. With
    C{dropAfter}, a connection that has carried that many messages is closed
    without a reply at its next MAIL, as a half-closed idle connection looks.
    """

    policy: Callable[[str, str], str | None] = _defaultPolicy
    tlsContext: ssl.SSLContext | None = None
    dsn: bool = False
    eightBit: bool = True
    requireAuth: tuple[str, str] | None = None
    dropAfter: int | None = None
    messages: list[Received] = field(factory=list)
    connections: int = 0
    _server: socketserver.ThreadingTCPServer | None = None
    _lock: threading.Condition = field(factory=threading.Condition)

    @property
    def port(self) -> int:
        """The port it listens on, once started."""
        assert self._server is not None, "start the sink first"
        return self._server.server_address[1]

    def start(self) -> SinkServer:
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                with sink._lock:
                    sink.connections += 1
                try:
                    sink._session(self.request)
                except (OSError, ssl.SSLError):
                    pass  # the gateway went away mid-session (e.g. a kill test)

        self._server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def wait(self, count: int, timeout: float = 30.0) -> list[Received]:
        """Wait until C{count} messages arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.messages)} of {count} messages arrived")
                self._lock.wait(left)
            return list(self.messages)

    def _session(self, sock: socket.socket) -> None:
        stream = sock.makefile("rb")
        tls = False
        auth = None

        def send(line: str) -> None:
            sock.sendall(line.encode() + b"\r\n")

        send("220 sink.test ESMTP test sink")
        helo, mailParams = "", ""
        mailFrom: str | None = None
        rcpts: list[str] = []
        carried = 0
        while True:
            raw = stream.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            if verb in ("EHLO", "HELO"):
                helo = arg
                ext = ["sink.test", "PIPELINING", "SIZE 100000000"]
                if self.eightBit:
                    ext.insert(2, "8BITMIME")
                if self.dsn:
                    ext.append("DSN")
                if self.tlsContext is not None and not tls:
                    ext.append("STARTTLS")
                if self.requireAuth:
                    ext.append("AUTH PLAIN LOGIN")
                for item in ext[:-1]:
                    send("250-" + item)
                send("250 " + ext[-1])
            elif verb == "STARTTLS":
                if self.tlsContext is None:  # not offered: as any other unknown command
                    send("500 5.5.1 what")
                    continue
                send("220 go ahead")
                sock = self.tlsContext.wrap_socket(sock, server_side=True)
                stream = sock.makefile("rb")
                tls = True
            elif verb == "AUTH":
                parts = base64.b64decode(arg.split(" ", 1)[1]).split(b"\0")
                if (parts[1].decode(), parts[2].decode()) == self.requireAuth:
                    auth = parts[1].decode()
                    send("235 2.7.0 ok")
                else:
                    send("535 5.7.8 no")
            elif verb == "MAIL":
                if self.dropAfter is not None and carried >= self.dropAfter:
                    sock.close()
                    return
                if self.requireAuth and auth is None:
                    send("530 5.7.0 auth first")
                    continue
                mailFrom, _, mailParams = arg[5:].partition(" ")
                mailFrom = mailFrom.strip("<>")
                rcpts = []
                send(self.policy("MAIL", mailFrom) or "250 2.1.0 ok")
            elif verb == "RCPT":
                address = arg[3:].partition(" ")[0].strip("<>")
                answer = self.policy("RCPT", address)
                if answer is None:
                    rcpts.append(address)
                send(answer or "250 2.1.5 ok")
            elif verb == "DATA":
                if not rcpts:
                    send("554 5.5.1 no valid recipients")
                    continue
                send("354 go")
                lines = []
                while True:
                    data = stream.readline()
                    if not data:
                        return  # cut off mid-DATA: a real server keeps nothing
                    if data == b".\r\n":
                        break
                    lines.append(data[1:] if data.startswith(b".") else data)
                content = b"".join(lines)
                answer = self.policy("DATA", content.decode("utf-8", "replace"))
                if answer is None:
                    carried += 1
                    with self._lock:
                        self.messages.append(
                            Received(helo, mailFrom, mailParams, rcpts, content, tls, auth)
                        )
                        self._lock.notify_all()
                send(answer or "250 2.0.0 stored")
            elif verb == "RSET":
                mailFrom, rcpts = None, []
                send("250 2.0.0 ok")
            elif verb == "NOOP":
                send("250 2.0.0 ok")
            elif verb == "QUIT":
                send("221 2.0.0 bye")
                return
            else:
                send("500 5.5.1 what")


@frozen
class HTTPResponse:
    """What a site answered: its status code, headers (lower-case names, in order) and body."""

    code: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of the header C{name}, if the answer has it."""
        return next((value for key, value in self.headers if key == name.lower()), None)

    def cookies(self) -> dict[str, str]:
        """The cookies the answer sets: name -> value (C{""} for one it removes)."""
        found = {}
        for key, value in self.headers:
            if key == "set-cookie":
                name, _, rest = value.partition("=")
                found[name.strip()] = rest.split(";", 1)[0]
        return found

    def json(self):
        import json

        return json.loads(self.body)


def serveHTTP(
    site,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    peer: str = "192.0.2.1",
    clock=None,
) -> HTTPResponse | None:
    """
    Send one HTTP/1.0 request to C{site} (a twisted.web C{Site}) over a
    transport in memory, through its real channel, parser and resources,
    and read the answer. If the site waits on C{clock} (a L{Clock
    <twisted.internet.task.Clock>}: a delay, say), it is advanced a second
    at a time, a minute at most, until the answer is finished; C{None} if
    it never is.
    """
    channel = site.buildProtocol(IPv4Address("TCP", peer, 40000))
    transport = StringTransport(peerAddress=IPv4Address("TCP", peer, 40000))
    channel.makeConnection(transport)
    lines = [f"{method} {path} HTTP/1.0", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    channel.dataReceived(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    for _ in range(60 if clock is not None else 0):
        if transport.disconnecting:
            break
        clock.advance(1)
    raw = transport.value()
    if not transport.disconnecting or b"\r\n\r\n" not in raw:
        return None
    head, _, content = raw.partition(b"\r\n\r\n")
    status, *fields = head.decode("latin-1").split("\r\n")
    parsed = []
    for line in fields:
        name, _, value = line.partition(":")
        parsed.append((name.strip().lower(), value.strip()))
    return HTTPResponse(int(status.split()[1]), tuple(parsed), content)


def result(d: Deferred[Any]) -> Any:
    """The result of the already fired Deferred C{d}; its failure raised."""
    out: list[Any] = []
    d.addBoth(out.append)
    [value] = out
    if hasattr(value, "raiseException"):
        value.raiseException()
    return value


class PumpedReactor(Clock):
    """A clock that also runs what other threads hand it (callFromThread), in L{wait}."""

    def __init__(self) -> None:
        super().__init__()
        #: What threads handed over (Clock keeps its delayed calls in C{calls}).
        self.handed: queue.Queue = queue.Queue()

    def callFromThread(self, f, *args, **kwargs):
        self.handed.put((f, args, kwargs))

    def outcome(self, d: Deferred[Any], timeout: float = 10.0) -> Any:
        """
        Run what threads hand over until C{d} fires; its result, or the
        L{Failure} it failed with (for tests that look at failures).
        """
        results: list[Any] = []
        d.addBoth(results.append)
        while not results:
            f, args, kwargs = self.handed.get(timeout=timeout)
            f(*args, **kwargs)
        return results[0]

    def wait(self, d: Deferred[Any], timeout: float = 10.0) -> Any:
        """L{outcome}, its failure raised."""
        result = self.outcome(d, timeout)
        if hasattr(result, "raiseException"):
            result.raiseException()
        return result


def mx(name, preference, exchange):
    """An MX record of C{name}, for L{FakeResolver}."""
    return dns.RRHeader(name, dns.MX, payload=dns.Record_MX(preference, exchange))


class FakeResolver:
    """
    A resolver answering from dicts: C{mx} maps a name to MX records (see
    L{mx}), C{a} and C{aaaa} map a name to addresses; with C{error}, every
    MX lookup fails with it.
    """

    def __init__(self, mx=None, a=None, aaaa=None, error=None):
        self.mx, self.a, self.aaaa, self.error = mx or {}, a or {}, aaaa or {}, error

    def lookupMailExchange(self, name):
        if self.error is not None:
            return fail(self.error)
        return succeed((self.mx.get(name, []), [], []))

    def lookupAddress(self, name):
        return succeed(
            (
                [
                    dns.RRHeader(name, dns.A, payload=dns.Record_A(ip))
                    for ip in self.a.get(name, [])
                ],
                [],
                [],
            )
        )

    def lookupIPV6Address(self, name):
        return succeed(
            (
                [
                    dns.RRHeader(name, dns.AAAA, payload=dns.Record_AAAA(ip))
                    for ip in self.aaaa.get(name, [])
                ],
                [],
                [],
            )
        )


class TLSStringTransport(StringTransport):
    """A StringTransport that records STARTTLS instead of doing it."""

    tlsStarted = False
    #: What had been written when TLS started (what went in clear).
    writtenInClear = b""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        super().write(data)

    def startTLS(self, contextFactory) -> None:
        self.tlsStarted = True
        self.writtenInClear = self.value()


class PostgreSQLServer:
    """
    A PostgreSQL of its own for tests, from the machine's packages: C{initdb}
    into a temporary directory, then C{pg_ctl start} listening on a Unix
    socket in that directory only (no TCP port), with C{fsync} off (a
    test's database dies with it; a commit is still written before it is
    answered, so that it outlives a crash of the server itself). Run
    as root (as CI does), initdb and the server run as C{nobody}: PostgreSQL
    refuses to run as root. L{database} makes a fresh database for a test
    (a schema of its own). C{durable} keeps PostgreSQL's defaults instead
    (C{fsync} on), as a benchmark measures them.
    """

    #: The superuser's name; the socket trusts every local connection.
    USER = "postgres"

    def __init__(self, bindir: Path, durable: bool = False) -> None:
        self.bindir = bindir
        #: PostgreSQL's own defaults (C{fsync} and full page writes on), for benchmarks.
        self.durable = durable
        self.root = Path(tempfile.mkdtemp(prefix="smtpeter-pg-"))
        self.data = self.root / "data"
        self.socket = self.root
        self._numbers = itertools.count(1)

    @staticmethod
    def binaries() -> Path | None:
        """
        The folder of C{initdb} and C{pg_ctl}: Debian keeps them off the
        C{PATH}, in C{/usr/lib/postgresql/VERSION/bin} (what C{pg_config
        --bindir} names, when the development package is there).
        """
        candidates = []
        pgConfig = shutil.which("pg_config")
        if pgConfig is not None:
            try:
                found = subprocess.run(
                    [pgConfig, "--bindir"], capture_output=True, text=True, check=True
                )
                candidates.append(Path(found.stdout.strip()))
            except (OSError, subprocess.CalledProcessError):
                pass
        installed = Path("/usr/lib/postgresql").glob("*/bin")
        candidates += sorted(installed, key=lambda p: _versionKey(p.parent.name), reverse=True)
        for candidate in candidates:
            if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
                return candidate
        return None

    def _run(self, *command: str) -> None:
        asUser: dict = {}
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            asUser = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
        subprocess.run(
            [str(self.bindir / command[0]), *command[1:]],
            cwd=self.root,
            check=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "TZ": "UTC"},
            **asUser,
        )

    def start(self) -> None:
        """Make the cluster and start it (about a second); waits until it answers."""
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(self.root, nobody.pw_uid, nobody.pw_gid)
        self.root.chmod(0o755)  # the socket, for us; the data directory stays 0700
        self._run(
            "initdb", "-D", str(self.data), "-U", self.USER, "--auth=trust",
            "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        settings = {
            "listen_addresses": "''",
            "unix_socket_directories": f"'{self.socket}'",
            "max_connections": "200",
        }
        if not self.durable:
            settings.update(fsync="off", full_page_writes="off", shared_buffers="16MB")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
        self.resume()

    def halt(self) -> None:
        """Stop the server, as an outage would (its data kept: L{resume} starts it again)."""
        self._run("pg_ctl", "stop", "-w", "-D", str(self.data), "-m", "immediate")

    def resume(self) -> None:
        """Start the server on its data; waits until it answers."""
        self._run("pg_ctl", "start", "-w", "-D", str(self.data), "-l", str(self.root / "log"))

    def stop(self) -> None:
        """Stop the server at once (if it runs) and remove everything it had."""
        try:
            self._run("pg_ctl", "status", "-D", str(self.data))
        except subprocess.CalledProcessError:
            pass  # not running
        else:
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def uri(self, database: str = "postgres") -> str:
        """A libpq URI of C{database}, through the socket."""
        return f"postgresql:///{database}?host={self.socket}&user={self.USER}"

    def database(self) -> str:
        """
        The URI of a new, empty schema in the server's database, which its
        connections use alone (C{search_path}): a database of its own to
        smtpeter, made in a millisecond (C{CREATE DATABASE} takes half a
        second). L{drop} removes it.
        """
        import psycopg

        name = f"test{os.getpid()}_{next(self._numbers)}"
        with psycopg.connect(self.uri(), autocommit=True) as db:
            db.execute(f'CREATE SCHEMA "{name}"')
        return f"{self.uri()}&options=-csearch_path%3D{name}"

    def drop(self, uri: str) -> None:
        """Remove the schema of C{uri} and all it holds."""
        import psycopg

        name = uri.rsplit("%3D", 1)[1]
        with psycopg.connect(self.uri(), autocommit=True) as db:
            db.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def _versionKey(name: str) -> tuple:
    return tuple(int(part) if part.isdigit() else 0 for part in name.split("."))
