"""Fixtures: a real gateway process, a receiving sink, logins made with the CLI."""

from __future__ import annotations

import datetime
import itertools
import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from twisted.internet.protocol import Factory, Protocol

from smtpeter.testing import HAProxy, PostgreSQLServer, SinkServer

BIN = Path(sys.executable).parent


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(p) for p in text.split()]


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0]
    except (FileNotFoundError, IndexError):
        return "zombie"


def _ephemeralLow() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _portRange() -> range:
    """
    Ports for the servers tests start: below the kernel's ephemeral range, so
    that no outgoing connection (a client's, a delivery's) takes one between
    the choice and the server's bind, as it could when the kernel chose them.
    Under pytest-xdist each worker has a slice of its own, so that two workers
    never pick the same port between one's check and its server's bind.
    """
    low = _ephemeralLow() - 12000
    size = 12000 - 500
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    size //= max(workers, 1)
    return range(low + worker * size, low + (worker + 1) * size)


#: A run starts at a random place in its slice and goes round it.
_RANGE = _portRange()
_START = random.randrange(len(_RANGE))
_ports = itertools.chain(_RANGE[_START:], _RANGE[:_START])


def freePort() -> int:
    """A port on 127.0.0.1 that nothing listens on or connects from now."""
    for port in _ports:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port left in {_RANGE}")


def waitForPort(
    port: int, process: subprocess.Popen, timeout: float = 20.0, greeting: bool = True
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gateway exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                if greeting:
                    s.recv(100)
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port}")


class Gateway:
    """
    A running `twistd -n smtpeter` process and the CLI bound to its data
    directory; with two worker processes unless C{extra} says otherwise.
    """

    def __init__(
        self, data: Path, relayPort: int, extra: list[str] = (), relay: bool = True
    ) -> None:
        self.data = data
        self.relayPort = relayPort
        self.relay = relay
        self.extra = list(extra)
        if "--workers" not in self.extra:
            self.extra += ["--workers", "2"]
        self.smtpPort = freePort()
        self.smtpsPort = freePort()
        self.httpPort = freePort()
        self.dashboardPort = freePort()
        self.process: subprocess.Popen | None = None
        self.twistdOptions: list[str] = []
        self.log = data.parent / f"{data.name}.log"

    def start(self) -> Gateway:
        command = [
            str(BIN / "twistd"),
            "-n",
            "--pidfile=",
            *self.twistdOptions,
            "smtpeter",
            "--data",
            str(self.data),
            "--hostname",
            "gw.test",
            "--smtp",
            f"tcp:{self.smtpPort}:interface=127.0.0.1",
            "--smtps",
            f"tcp:{self.smtpsPort}:interface=127.0.0.1",
            "--http",
            f"tcp:{self.httpPort}:interface=127.0.0.1",
            "--dashboard",
            f"tcp:{self.dashboardPort}:interface=127.0.0.1",
            *(["--relay", f"127.0.0.1:{self.relayPort}"] if self.relay else []),
            "--auth-failure-delays",
            "0.2",
            # Nodes on one PostgreSQL need names of their own (this machine's
            # host name is every test gateway's); on SQLite it changes nothing.
            "--node",
            self.data.name,
            *self.extra,
        ]
        self.process = subprocess.Popen(
            command,
            stdout=open(self.log, "ab"),
            stderr=subprocess.STDOUT,
            cwd=self.data.parent,
        )
        waitForPort(self.smtpPort, self.process)
        waitForPort(self.smtpsPort, self.process, greeting=False)
        waitForPort(self.httpPort, self.process, greeting=False)
        waitForPort(self.dashboardPort, self.process, greeting=False)
        return self

    @property
    def web(self) -> str:
        """Base URL of the gateway's web listener."""
        return f"http://127.0.0.1:{self.httpPort}"

    @property
    def dashboard(self) -> str:
        """Base URL of the gateway's dashboard."""
        return f"http://127.0.0.1:{self.dashboardPort}"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL the parent; the kernel kills its workers with it."""
        workers = self.workerPids()
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        for pid in workers:
            while Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid):
                time.sleep(0.02)

    def workerPids(self) -> list[int]:
        """The worker processes' ids, in worker order."""
        found = []
        for pid in _children(self.process.pid):
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except FileNotFoundError:
                continue
            if b"smtpeter.process._worker" in command:
                found.append((int(command[command.index(b"smtpeter.process._worker") + 1]), pid))
        return [pid for _, pid in sorted(found)]

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN / "smtpeter"), "--data", str(self.data), *args],
            capture_output=True,
            text=True,
            check=check,
        )

    def createLogin(self, name: str, *features: str) -> str:
        args = ["login", "create", name, "--json"]
        for feature in features:
            args += ["--feature", feature]
        return json.loads(self.cli(*args).stdout)["password"]

    def logText(self) -> str:
        return self.log.read_text(errors="replace")

    def waitForLog(self, *texts: str, timeout: float = 30.0) -> str:
        """Wait until every one of C{texts} is in the log; return the log."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.logText()
            if all(text in log for text in texts):
                return log
            if time.monotonic() > deadline:
                missing = [t for t in texts if t not in log]
                raise AssertionError(f"not logged within {timeout} s: {missing}")
            time.sleep(0.1)

    def waitForCount(
        self, text: str, count: int, timeout: float = 30.0, settle: float = 0.5
    ) -> str:
        """
        Wait until C{text} is in the log C{count} times, then C{settle} s more,
        and check that no more came (the workers write their lines in
        batches, so a line can come after what the test saw it cause);
        return the log.
        """
        eventually(
            lambda: self.logText().count(text) >= count, timeout, f"{count} x {text!r} logged"
        )
        time.sleep(settle)
        log = self.logText()
        assert log.count(text) == count, f"{log.count(text)} x {text!r} logged, not {count}"
        return log

    def waitForQuietLog(self, quiet: float = 0.5, timeout: float = 30.0) -> str:
        """Wait until the log has not grown for C{quiet} seconds; return the log."""
        deadline = time.monotonic() + timeout
        size, since = -1, time.monotonic()
        while True:
            now = self.log.stat().st_size
            if now != size:
                size, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return self.logText()
            assert time.monotonic() < deadline, f"the log kept growing for {timeout} s"
            time.sleep(0.1)


def upgradeAtOnce(uri: str, count: int = 3) -> tuple[list, list[Exception]]:
    """
    C{count} nodes upgrading the PostgreSQL database at C{uri} at the same
    time, each in a thread on a connection of its own: what the upgrades
    returned, and what they raised.
    """
    from smtpeter.store import _postgres, upgrade

    results: list = []
    errors: list[Exception] = []

    def node() -> None:
        db = _postgres.connect(uri)
        try:
            results.append(upgrade(db))
        except Exception as e:  # noqa: BLE001 - the caller asserts on them
            errors.append(e)
        finally:
            db.close()

    threads = [threading.Thread(target=node) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def eventually(predicate, timeout: float = 10.0, what: str = "the condition"):
    """Poll C{predicate} until it gives something true, and return that; fail after C{timeout}."""
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        assert time.monotonic() < deadline, f"{what} did not come within {timeout} s"
        time.sleep(0.1)
    return found


class DNSServer:
    """Twisted's own DNS server (`twistd dns`) serving a Python zone on 127.0.0.1:C{port}."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = freePort()
        self.process: subprocess.Popen | None = None

    def start(self, zone: str) -> DNSServer:
        path = self.directory / "zone.py"
        path.write_text(zone)
        log = self.directory / "dns.log"
        self.process = subprocess.Popen(
            [str(BIN / "twistd"), "-n", "--pidfile=", "dns", "--pyzone", str(path)]
            + ["--interface", "127.0.0.1", "--port", str(self.port)],
            stdout=open(log, "wb"),
            stderr=subprocess.STDOUT,
            cwd=self.directory,
        )
        eventually(lambda: self.answers() or self.process.poll() is not None, 20, "dns answer")
        assert self.process.poll() is None, log.read_text()
        return self

    def answers(self) -> bool:
        """Whether the server answers a query (UDP: no port to wait on)."""
        from twisted.names import dns

        query = dns.Message(id=1)
        query.queries = [dns.Query(b"ready.test", dns.A)]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            s.sendto(query.toStr(), ("127.0.0.1", self.port))
            try:
                return bool(s.recv(512))
            except OSError:
                return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(10)


@pytest.fixture
def sink():
    server = SinkServer().start()
    yield server
    server.stop()


@pytest.fixture
def makeGateway(tmp_path):
    gateways = []

    def make(sink, *extra: str, name: str = "data") -> Gateway:
        gateway = Gateway(tmp_path / name, sink.port, list(extra))
        gateways.append(gateway)
        return gateway.start()

    yield make
    for gateway in gateways:
        gateway.stop()


@pytest.fixture
def gateway(makeGateway, sink):
    return makeGateway(sink)


def needs(program: str) -> None:
    """Real-client tests need the real client; CI installs it. Locally, say so loudly."""
    if shutil.which(program) is None and not os.path.exists(f"/usr/sbin/{program}"):
        if os.environ.get("CI"):
            pytest.fail(f"{program} is not installed; .ci/run must install it")
        pytest.skip(f"{program} is not installed (apt-get install {program})")


@pytest.fixture(scope="session")
def postgresql():
    """
    A PostgreSQL server of this test session's own (L{PostgreSQLServer}),
    from Debian's C{postgresql} package, which CI installs.
    """
    bindir = PostgreSQLServer.binaries()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("initdb is not installed; .ci/run must install postgresql")
        pytest.skip("initdb is not installed (apt-get install postgresql)")
    server = PostgreSQLServer(bindir)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def postgresDatabase(postgresql):
    """The libpq URI of a new, empty PostgreSQL database for this test alone."""
    uri = postgresql.database()
    yield uri
    postgresql.drop(uri)


@pytest.fixture
def pgconnect(postgresDatabase):
    """
    Connections (each call, a new psycopg one) to a new PostgreSQL database
    of this test alone, at the current schema.
    """
    import psycopg

    from smtpeter.runtime import PostgreSQL
    from smtpeter.store import openDatabase

    openDatabase(PostgreSQL(postgresDatabase)).close()
    return lambda: psycopg.connect(postgresDatabase)


@pytest.fixture
def sharedQueued(postgresDatabase):
    """
    What the administration reads of the shared queue in the test's
    PostgreSQL database (L{smtpeter.admin._sharedqueue.sharedMessages}):
    C{sharedQueued(qid=None)}, each message's metadata and its recipients'
    states, oldest id first (of C{qid} alone, if given).
    """
    from smtpeter.admin._sharedqueue import sharedMessages
    from smtpeter.runtime import PostgreSQL
    from smtpeter.store import openDatabase

    db = openDatabase(PostgreSQL(postgresDatabase))
    yield lambda qid=None: [(meta, states) for meta, states, _ in sharedMessages(db, qid)]
    db.close()


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium, driven by Playwright (never a browser it downloads)."""
    if shutil.which(CHROMIUM) is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run must install it")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


def recordingFactory() -> tuple[Factory, list[Protocol]]:
    """A factory, and the list of every protocol it makes (one per accepted connection)."""
    made: list[Protocol] = []
    factory = Factory.forProtocol(Protocol)
    factory.buildProtocol = lambda address: made.append(Protocol()) or made[-1]
    return factory, made


#: Mozilla's "intermediate" TLS 1.2 suites with ECDHE, by the certificate's key.
ALLOWED = {
    "ec": {
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
    },
    "rsa": {
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-RSA-CHACHA20-POLY1305",
    },
}


def everyTLS12Suite() -> list[str]:
    """Every suite below TLS 1.3 that this OpenSSL knows, the weak and the null ones too."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    return [c["name"] for c in context.get_ciphers() if c["protocol"] != "TLSv1.3"]


def clientContext(suite: str | None = None) -> ssl.SSLContext:
    """A client that offers C{suite} alone with TLS 1.2 at most, or else TLS 1.3 only."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if suite is None:
        context.minimum_version = ssl.TLSVersion.TLSv1_3
    else:
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(suite + ":@SECLEVEL=0")
    return context


def writeCertificate(tmp_path, kind: str):
    """A self-signed certificate with an ECDSA P-256 or RSA 2048 key: (cert.pem, key.pem)."""
    key = (
        ec.generate_private_key(ec.SECP256R1())
        if kind == "ec"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    pem = serialization.Encoding.PEM
    cert, keyFile = tmp_path / f"{kind}-cert.pem", tmp_path / f"{kind}-key.pem"
    cert.write_bytes(_certificate("gw.test", key, "gw.test", key).public_bytes(pem))
    keyFile.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert, keyFile


def _certificate(name: str, key, issuer: str, issuerKey) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(issuerKey, hashes.SHA256())
    )


FIXTURES = Path(__file__).parent / "fixtures"


MESSAGES = FIXTURES / "messages"


def fixture(name: str) -> bytes:
    """A corpus message as the spool holds it: CRLF line ends."""
    return crlf((MESSAGES / f"{name}.eml").read_bytes())


def crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def corpus() -> list[str]:
    return sorted(p.stem for p in MESSAGES.glob("*.eml"))


def haproxyBinary() -> str:
    """Debian's haproxy (in /usr/sbin, which a non-root PATH may lack)."""
    needs("haproxy")
    binary = HAProxy.binary()
    assert binary is not None  # needs() said it is there
    return binary


@pytest.fixture
def haproxy(tmp_path):
    """Makes L{HAProxy}s (C{haproxy(backends)}), stopped after the test."""
    made = []

    def make(backends: dict[str, list[str]], mode: str = "tcp") -> HAProxy:
        needs("haproxy")
        made.append(HAProxy(tmp_path / f"haproxy{len(made)}", freePort))
        return made[-1].start(backends, mode=mode)

    yield make
    for each in made:
        each.stop()
