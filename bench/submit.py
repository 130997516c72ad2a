#!/usr/bin/env python3
"""
Submission benchmark: N concurrent clients, each making connections one
after another (STARTTLS + AUTH each time) and sending M messages of S KB on
each, with PIPELINING, against the real gateway (twistd smtpeter with
--workers 1 and with one worker per CPU, relaying to Postfix's smtp-sink)
and, in the same run, the reference Postfix (../shared/tools/reference-postfix)
relaying to the same sink, both with a certificate of the same key type
(--key: ECDSA P-256 by default, as the gateway generates; checked on the
wire before measuring).

A workload is PER@CLIENTS: 1@100 is 100 clients sending one message per
connection. Messages are distinct by default (their own Message-ID and
subject, and random text at the end of every body line); the mailing
workload sends byte-identical messages, 50 per connection from 20 clients
(byte-identical messages cost the gateway about 5% less).

Prints, per target and workload: accepted msgs/s (submission only),
end-to-end msgs/s (from the first connection until the sink has counted
every message), p50/p99 latency from the final dot to the 250, p50/p99 of
whole sessions (connect to QUIT's answer), and the CPU milliseconds per
message of the target's whole process tree (for Postfix: master, smtpd,
cleanup, qmgr, smtp, including exited ones); then the medians of the
rounds with each gateway's ratios to Postfix.

The issue's table (one message per connection at 20 and 100 clients, 50
per connection, the mailing), beside the reference Postfix, ECDSA P-256:

    python bench/submit.py --workers 2 --key ec --rounds 3 --messages 3000

(the defaults: --workloads 1@20,1@100,50@20,mailing). Every run waits
until the sink has every message before the next begins.

Needs Debian's postfix (for smtp-sink and the reference instance) with a
system configuration for the reference tool to copy: if /etc/postfix/main.cf
is missing, copy /usr/share/postfix/main.cf.debian there (and master.cf.dist
as master.cf, and dynamicmaps.cf).
The reference Postfix does not offer AUTH (it has no SASL server set up);
it gets STARTTLS and the same messages, so it does slightly less work.
Every client connects from 127.0.0.1, which Postfix does not limit (it is
in its mynetworks); the gateway is started with a --max-connections-per-ip
above any client count for the same reason.

The load generator runs here too, on the CPUs its target uses: its own CPU
per message is printed ("client"), as what it takes from a target that is
short of CPU, and the share of the time it was busy (running, or waiting
for a CPU). Near 100% it sets the pace for both targets and the ratios
shrink towards 1: at 100 clients on 2 CPUs one process was busy 95-99% of
the time (and 75% at 20 clients); --client-processes spreads the clients
over more (which then take more of the CPUs from a target of few
processes). It verifies no certificate, and so loads none.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import datetime
import json
import multiprocessing
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: The reference Postfix tool: in shared/tools beside the checkout, or beside any folder above it.
REFERENCE_TOOL = next(
    (
        folder / "shared" / "tools" / "reference-postfix"
        for folder in HERE.parents
        if (folder / "shared" / "tools" / "reference-postfix").exists()
    ),
    HERE.parent.parent / "shared" / "tools" / "reference-postfix",
)


def freePort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def waitFor(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listening on port {port} after {timeout} s")


class Sink:
    """Postfix's smtp-sink, counting what it receives."""

    def __init__(self) -> None:
        self.port = freePort()
        self.out = tempfile.NamedTemporaryFile(prefix="bench-sink-", delete=False)
        binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
        self.process = subprocess.Popen(
            [binary, "-u", "nobody", "-c", f"127.0.0.1:{self.port}", "1000"],
            stdout=self.out,
            stderr=subprocess.STDOUT,
        )
        waitFor(self.port)

    def count(self) -> int:
        found = re.findall(rb"mesg=(\d+)", Path(self.out.name).read_bytes())
        return int(found[-1]) if found else 0

    def stop(self) -> None:
        self.process.kill()
        os.unlink(self.out.name)


async def reply(reader: asyncio.StreamReader) -> tuple[int, str]:
    lines = []
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("connection closed")
        lines.append(line.decode(errors="replace").rstrip())
        if line[3:4] != b"-":
            return int(line[:3]), "\n".join(lines)


# Made once, and without the system's CA certificates: the load generator
# verifies nothing (CERT_NONE), yet with them loaded OpenSSL still looked
# for each server's chain among them: a handshake cost the generator 0.72
# ms of CPU instead of 0.44, on the CPUs the gateway under test shares.
CLIENT_TLS = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
CLIENT_TLS.check_hostname = False
CLIENT_TLS.verify_mode = ssl.CERT_NONE


async def session(port, user, password, messages, source, results, starttls=True):
    """One connection: C{messages} messages taken from C{source}; timings into C{results}."""
    began = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reply(reader)
    writer.write(b"EHLO bench.test\r\n")
    code, text = await reply(reader)
    if starttls and "STARTTLS" in text:
        writer.write(b"STARTTLS\r\n")
        await reply(reader)
        await writer.start_tls(CLIENT_TLS)
        writer.write(b"EHLO bench.test\r\n")
        code, text = await reply(reader)
    if "AUTH" in text and user:
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        writer.write(f"AUTH PLAIN {token}\r\n".encode())
        code, text = await reply(reader)
        if code != 235:
            raise SystemExit(f"AUTH failed: {text}")
    for _ in range(messages):
        writer.write(b"MAIL FROM:<bench@example.com>\r\nRCPT TO:<sink@example.org>\r\nDATA\r\n")
        for expected in (250, 250, 354):
            code, text = await reply(reader)
            if code != expected:
                raise SystemExit(f"unexpected reply: {text}")
        writer.write(source.next())
        await writer.drain()
        started = time.perf_counter()
        code, text = await reply(reader)
        results.latencies.append(time.perf_counter() - started)
        if code == 250:
            results.accepted += 1
    writer.write(b"QUIT\r\n")
    await reply(reader)
    writer.close()
    results.sessions.append(time.perf_counter() - began)


async def client(port, user, password, connections, messages, source, results, starttls=True):
    """One client: C{connections} connections one after the other, C{messages} each."""
    for _ in range(connections):
        await session(port, user, password, messages, source, results, starttls)


#: The text of every message's body; a distinct message varies the end of each line.
LINE = b"The quick brown fox jumps over the lazy dog, 0123456789 abcdefghij ABCDEFGHIJ.\r\n"
HEADER = b"From: bench@example.com\r\nTo: sink@example.org\r\n"


def makeBody(sizeKB: int) -> bytes:
    """One message of C{sizeKB} KB, the same bytes every time (with its final dot)."""
    header = HEADER + b"Subject: benchmark\r\n\r\n"
    lines = max(1, (sizeKB * 1024 - len(header)) // len(LINE))
    return header + LINE * lines + b".\r\n"


class Messages:
    """
    What one load generator sends: distinct messages (by default), each
    with its own Message-ID and subject and 20 random characters at the end
    of every line of its body, as a stream of different mails is; or, for
    the mailing workload, the same bytes every time (byte-identical messages
    cost the gateway about 5% less).
    """

    def __init__(self, sizeKB: int, identical: bool = False) -> None:
        self.identical = identical
        self.same = makeBody(sizeKB)
        self.lines = max(1, (sizeKB * 1024 - len(HEADER) - 80) // len(LINE))
        self.stem = LINE[:-22] + b" "
        self.prefix = f"{os.getpid()}.{time.monotonic_ns()}".encode()
        self.sent = 0

    def next(self) -> bytes:
        if self.identical:
            return self.same
        self.sent += 1
        noise = os.urandom(10 * self.lines).hex().encode()
        header = b"%sMessage-ID: <%s.%d@bench.test>\r\nSubject: benchmark %d\r\n\r\n" % (
            HEADER,
            self.prefix,
            self.sent,
            self.sent,
        )
        stem = self.stem
        body = b"".join(stem + noise[20 * i : 20 * i + 20] + b"\r\n" for i in range(self.lines))
        return header + body + b".\r\n"


class Results:
    """What the clients of one load generator saw."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.sessions: list[float] = []
        self.accepted = 0
        #: The share of the time the load generator was busy (see L{_timedLoad}).
        self.busy = 0.0


def _ports(port) -> tuple[int, ...]:
    """A target's ports: one, or one per node of a cluster (clients take them in turn)."""
    return port if isinstance(port, tuple) else (port,)


async def _load(port, user, password, clients, connections, messages, sizeKB, identical):
    source = Messages(sizeKB, identical)
    results = Results()
    ports = _ports(port)
    await asyncio.gather(
        *(
            client(ports[i % len(ports)], user, password, connections, messages, source, results)
            for i in range(clients)
        )
    )
    return results


def _schedstat() -> tuple[float, float]:
    """Seconds this thread has run and waited to run (Linux; zeros elsewhere)."""
    try:
        ran, waited, _ = Path("/proc/thread-self/schedstat").read_text().split()
    except (OSError, ValueError):
        return 0.0, 0.0
    return int(ran) / 1e9, int(waited) / 1e9


def _timedLoad(arguments) -> tuple[Results, float, float]:
    """
    L{_load} in this process: its results, its CPU seconds, and the share of
    the time its thread was busy (running, or runnable and waiting for a
    CPU): near 100%, it is the load generator that sets the pace.
    """
    started, cpu = time.perf_counter(), time.process_time()
    ran, waited = _schedstat()
    results = asyncio.run(_load(*arguments))
    wall = time.perf_counter() - started
    ranAfter, waitedAfter = _schedstat()
    busy = ((ranAfter - ran) + (waitedAfter - waited)) / wall
    return results, time.process_time() - cpu, busy


def _loadProcess(arguments, pipe) -> None:
    """One load-generating process (see L{load}): its results, sent on C{pipe}."""
    results, cpu, busy = _timedLoad(arguments)
    pipe.send((results.latencies, results.sessions, results.accepted, cpu, busy))
    pipe.close()


def load(
    port, user, password, clients, connections, messages, sizeKB, identical=False, processes=1
):
    """
    C{clients} clients, spread over C{processes} load-generating processes
    (one: this one). @return: (seconds, Results, client CPU seconds); the
    results' C{busy} is the busiest load generator's share of time busy.
    """
    arguments = (port, user, password, clients, connections, messages, sizeKB, identical)
    if processes <= 1:
        started = time.perf_counter()
        results, cpu, results.busy = _timedLoad(arguments)
        return time.perf_counter() - started, results, cpu
    shares = [clients // processes + (i < clients % processes) for i in range(processes)]
    context = multiprocessing.get_context("fork")
    children = []
    started = time.perf_counter()
    for n in filter(None, shares):
        mine, theirs = context.Pipe(duplex=False)
        process = context.Process(
            target=_loadProcess, args=((*arguments[:3], n, *arguments[4:]), theirs)
        )
        process.start()
        theirs.close()
        children.append((process, mine))
    results = Results()
    cpu = 0.0
    for process, pipe in children:
        try:
            latencies, sessions, accepted, seconds, busy = pipe.recv()
        except EOFError:
            raise SystemExit("a load-generating process failed (its error is above)") from None
        process.join()
        results.latencies += latencies
        results.sessions += sessions
        results.accepted += accepted
        results.busy = max(results.busy, busy)
        cpu += seconds
    return time.perf_counter() - started, results, cpu


def _ticks(pid: int, children: bool) -> int:
    """CPU clock ticks of a process (and of its reaped children, with C{children})."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0
    used = int(fields[11]) + int(fields[12])  # utime, stime
    return used + (int(fields[13]) + int(fields[14]) if children else 0)  # cutime, cstime


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def cpuSeconds(root: int) -> float:
    """CPU time of a process tree: the root, its reaped children, and the live ones."""
    ticks = _ticks(root, children=True) + sum(_ticks(c, children=False) for c in _children(root))
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclasses.dataclass(frozen=True)
class Workload:
    """C{clients} concurrent clients sending C{perConnection} messages on each connection."""

    clients: int
    perConnection: int
    #: Byte-identical messages (the mailing workload), not distinct ones.
    identical: bool = False

    @property
    def name(self) -> str:
        return "mailing" if self.identical else f"{self.perConnection}/conn@{self.clients}"

    @classmethod
    def parse(cls, text: str) -> Workload:
        """C{PER@CLIENTS} (say C{1@100}), C{PER@CLIENTS:same}, or C{mailing}."""
        if text == "mailing":
            return MAILING
        spec, _, same = text.partition(":")
        per, _, clients = spec.partition("@")
        try:
            if same not in ("", "same"):
                raise ValueError
            return cls(int(clients), int(per), same == "same")
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r}: a workload is PER@CLIENTS (1@100: 100 clients, one message"
                " per connection), PER@CLIENTS:same (byte-identical messages) or mailing"
            ) from None


#: A mailing: the same message, submitted 50 per connection by 20 clients.
MAILING = Workload(20, 50, identical=True)
#: The issue's table: one message per connection at 20 and 100 clients, 50 per
#: connection, and the mailing.
DEFAULT_WORKLOADS = "1@20,1@100,50@20,mailing"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[int(fraction * (len(ordered) - 1))]


def treesCPU(roots: tuple[int, ...]) -> float:
    """The CPU seconds of the process trees of C{roots} (see L{cpuSeconds})."""
    return sum(cpuSeconds(root) for root in roots)


def measure(
    name, port, user, password, sink, args, workload: Workload, root, database=(), balancer=()
) -> dict:
    """
    Run C{workload} (C{args.messages} messages, rounded to whole
    connections) against one target; C{root} is the pid whose process tree
    does the target's work (for CPU per message), or a tuple of them (the
    nodes of a cluster; then C{port} is a tuple too, one port per node, and
    the clients take them in turn, as behind a balancer); C{database}, the
    pids of the database server's trees, whose CPU is counted in the
    target's too, and also alone; C{balancer}, the same for a load
    balancer in front of the target (C{port} is then the balancer's).
    """
    clients, messages = workload.clients, workload.perConnection
    connections = max(1, args.messages // (clients * messages))
    before = sink.count()
    total = clients * connections * messages
    roots = _ports(root) if root else ()
    cpuBefore, dbBefore, lbBefore = treesCPU(roots), treesCPU(database), treesCPU(balancer)
    started = time.perf_counter()
    elapsed, results, clientCPU = load(
        port,
        user,
        password,
        clients,
        connections,
        messages,
        args.size,
        workload.identical,
        args.client_processes,
    )
    deadline = time.monotonic() + 300
    while sink.count() - before < total and time.monotonic() < deadline:
        time.sleep(0.01)
    endToEnd = time.perf_counter() - started
    delivered = sink.count() - before
    dbCPU = treesCPU(database) - dbBefore
    lbCPU = treesCPU(balancer) - lbBefore
    cpu = treesCPU(roots) - cpuBefore + dbCPU + lbCPU
    accepted = results.accepted
    result = {
        "target": name,
        "workload": workload.name,
        "messages": total,
        "accepted": accepted,
        "delivered": delivered,
        "accepted_per_s": round(accepted / elapsed, 1),
        "p50_ms": round(1000 * percentile(results.latencies, 0.5), 2),
        "p99_ms": round(1000 * percentile(results.latencies, 0.99), 2),
        "session_p50_ms": round(1000 * percentile(results.sessions, 0.5), 1),
        "session_p99_ms": round(1000 * percentile(results.sessions, 0.99), 1),
        "end_to_end_per_s": round(delivered / endToEnd, 1),
        "cpu_ms_per_msg": round(1000 * cpu / max(1, delivered), 2),
        "db_cpu_ms_per_msg": round(1000 * dbCPU / max(1, delivered), 2),
        "lb_cpu_ms_per_msg": round(1000 * lbCPU / max(1, delivered), 2),
        "client_cpu_ms_per_msg": round(1000 * clientCPU / max(1, total), 2),
        "client_busy": round(results.busy, 2),
    }
    print(
        f"{name:>15} {result['workload']:>10}: accepted {result['accepted_per_s']:6.1f}/s"
        f"  end-to-end {result['end_to_end_per_s']:6.1f}/s"
        f"  p50/p99 {result['p50_ms']:5.1f}/{result['p99_ms']:6.1f} ms"
        f"  session {result['session_p50_ms']:5.0f}/{result['session_p99_ms']:5.0f} ms"
        f"  CPU {result['cpu_ms_per_msg']:5.2f} ms/msg"
        + (f" (database {result['db_cpu_ms_per_msg']:.2f})" if database else "")
        + (f" (balancer {result['lb_cpu_ms_per_msg']:.2f})" if balancer else "")
        + f" (client {result['client_cpu_ms_per_msg']:.2f}, busy {results.busy:.0%})"
        f"  ({delivered}/{total} delivered)",
        flush=True,
    )
    return result


def launchGateway(
    workdir: Path,
    data: Path,
    relayPort: int,
    workers: int,
    extra: tuple[str, ...] = (),
    label: str | None = None,
) -> tuple[subprocess.Popen, int, int]:
    """
    twistd smtpeter on C{data}, relaying to C{relayPort}, once ready:
    (process, SMTP, HTTP). Its log is C{gateway-LABEL.log} in C{workdir}
    (by default, the number of workers).
    """
    port, http = freePort(), freePort()
    log = workdir / f"gateway-{label or workers}.log"
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "twistd"),
            "-n",
            "--pidfile=",
            "smtpeter",
            "--data",
            str(data),
            "--hostname",
            "gw.bench",
            "--smtp",
            f"tcp:{port}:interface=127.0.0.1",
            "--smtps",
            f"tcp:{freePort()}:interface=127.0.0.1",
            "--http",
            f"tcp:{http}:interface=127.0.0.1",
            *(() if "--dashboard" in extra else ("--dashboard", "none")),
            # Every client connects from 127.0.0.1: the default limit (50) would refuse some.
            *(() if "--max-connections-per-ip" in extra else ("--max-connections-per-ip", "10000")),
            "--relay",
            f"127.0.0.1:{relayPort}",
            "--relay-tls",
            "none",
            "--workers",
            str(workers),
            *extra,
        ],
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    waitFor(port)
    deadline = time.monotonic() + 30
    while b"ready" not in log.read_bytes():
        if time.monotonic() > deadline:
            raise SystemExit("the gateway did not get ready")
        time.sleep(0.1)
    return process, port, http


def startGateway(
    sink: Sink,
    workdir: Path,
    workers: int,
    extra: tuple[str, ...] = (),
    loginOptions: tuple[str, ...] = (),
    label: str | None = None,
    database: str | None = None,
    login: bool = True,
):
    """
    A gateway (L{launchGateway}) with a login C{bench}: (process, SMTP
    port, the login's password, or C{None} without C{login}). With
    C{database} (a URI), the gateway and the command that makes the login
    use it (a second node of a cluster needs no login of its own).
    """
    data = workdir / f"data-{label or workers}"
    shared = ("--database", database) if database else ()
    process, port, _ = launchGateway(workdir, data, sink.port, workers, (*shared, *extra), label)
    if not login:
        return process, port, None
    created = subprocess.run(
        [
            str(Path(sys.executable).parent / "smtpeter"),
            "--data",
            str(data),
            *shared,
            "login",
            "create",
            "bench",
            "--json",
            *loginOptions,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return process, port, json.loads(created.stdout)["password"]


def medians(results: list[dict]) -> list[dict]:
    """One row per target: the median of each figure over its rounds."""
    targets = list(dict.fromkeys(r["target"] for r in results))
    merged = []
    for target in targets:
        rows = [r for r in results if r["target"] == target]
        row = dict(rows[0])
        for key, value in row.items():
            if isinstance(value, float):
                row[key] = statistics.median(r[key] for r in rows)
        merged.append(row)
    return merged


def makeCertificate(workdir: Path, key: str) -> tuple[str, ...]:
    """
    A self-signed certificate for the gateway whose key is of the type the
    reference Postfix gets (C{ec}: ECDSA P-256; C{rsa}: RSA-2048), as the
    gateway options that use it.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID

    private = (
        ec.generate_private_key(ec.SECP256R1())
        if key == "ec"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gw.bench")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(private, hashes.SHA256())
    )
    certPath, keyPath = workdir / f"cert-{key}.pem", workdir / f"key-{key}.pem"
    certPath.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    keyPath.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ("--tls-cert", str(certPath), "--tls-key", str(keyPath))


async def _serverKey(port: int) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reply(reader)
    writer.write(b"EHLO bench.test\r\n")
    await reply(reader)
    writer.write(b"STARTTLS\r\n")
    await reply(reader)
    await writer.start_tls(CLIENT_TLS)
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.write(b"QUIT\r\n")
    await reply(reader)
    writer.close()
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    public = x509.load_der_x509_certificate(der).public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        return f"ECDSA {public.curve.name}"
    if isinstance(public, rsa.RSAPublicKey):
        return f"RSA-{public.key_size}"
    return type(public).__name__


def serverKey(port: int) -> str:
    """The key type of the certificate the server at C{port} offers after STARTTLS."""
    return asyncio.run(_serverKey(port))


def postfixMaster(instance: str) -> int:
    return int(Path(instance, "spool", "pid", "master.pid").read_text().split()[0])


def workloadsFrom(args) -> list[Workload]:
    """The workloads asked for: --workloads, or the older --clients and --per-connection."""
    if args.clients is None and args.per_connection is None:
        return [Workload.parse(w) for w in args.workloads.split(",")]
    clients = args.clients or 20
    perConnection = (args.per_connection or "1,50").split(",")
    return [Workload.parse(f"{p}@{clients}") for p in perConnection]


def options(description: str) -> argparse.ArgumentParser:
    """The options every submission benchmark takes (this one's and bench/cluster.py's)."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--workloads",
        default=DEFAULT_WORKLOADS,
        help="comma-separated: PER@CLIENTS (messages per connection, concurrent clients),"
        " PER@CLIENTS:same (byte-identical messages), mailing (50@20:same)"
        f" [default: {DEFAULT_WORKLOADS}]",
    )
    parser.add_argument(
        "--clients",
        type=int,
        help="instead of --workloads: this many clients for each of --per-connection",
    )
    parser.add_argument(
        "--per-connection",
        help="instead of --workloads: messages per connection, comma-separated"
        " (with --clients, 20 if not given)",
    )
    parser.add_argument(
        "--messages",
        type=int,
        default=2000,
        help="messages per target, workload and round (rounded to whole connections)"
        " [default: 2000]",
    )
    parser.add_argument("--size", type=int, default=10, help="message size in KB [default: 10]")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="measure every target this many times, in turn, and compare medians [default: 3]",
    )
    parser.add_argument(
        "--key",
        choices=("ec", "rsa"),
        default="ec",
        help="the certificate key of both servers: ECDSA P-256 or RSA-2048 [default: ec]",
    )
    parser.add_argument(
        "--client-processes",
        type=int,
        default=1,
        help="load-generating processes the clients are spread over [default: 1]",
    )
    parser.add_argument("--no-postfix", action="store_true", help="measure the gateway only")
    parser.add_argument(
        "--reference-tool", default=str(REFERENCE_TOOL), help="path of the reference-postfix tool"
    )
    parser.add_argument(
        "--login-options",
        default="",
        help="options of the gateway's login, as 'smtpeter login create' takes them, to measure"
        " a login with limits: '--rate 999999999/minute --quota 999999999/month'"
        " [default: none]",
    )
    parser.add_argument("--json", help="also write the results to this file")
    return parser


@dataclasses.dataclass(frozen=True)
class Target:
    """
    What is measured: its C{port} (a tuple: one per node, the clients
    taking them in turn) and login, the pid(s) whose process trees do its
    work (C{root}), and its database server's (C{database}) and load
    balancer's (C{balancer}; then C{port} is the balancer's), counted too.
    """

    name: str
    port: int | tuple[int, ...]
    user: str | None
    password: str | None
    root: int | tuple[int, ...]
    database: tuple[int, ...] = ()
    balancer: tuple[int, ...] = ()


def startPostfix(args, sink: Sink) -> tuple[Target, str]:
    """The reference Postfix, relaying to C{sink}: its target and its instance's directory."""
    port = freePort()
    out = subprocess.run(
        [
            sys.executable,
            args.reference_tool,
            "start",
            "--listen",
            str(port),
            "--relay",
            str(sink.port),
            "--tls",
            "--key",
            args.key,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    instance = out.stdout.strip().splitlines()[-1]
    waitFor(port)
    return Target("postfix", port, None, None, postfixMaster(instance)), instance


def stopPostfix(args, instance: str) -> None:
    subprocess.run([sys.executable, args.reference_tool, "stop", instance], capture_output=True)


def checkKeys(targets: list[Target]) -> None:
    """Every target offers a certificate of the same key type, or the run stops."""
    keys = {t.name: serverKey(_ports(t.port)[0]) for t in targets}
    print("certificates: " + ", ".join(f"{t} {k}" for t, k in keys.items()), flush=True)
    if len(set(keys.values())) > 1:
        raise SystemExit("the servers' certificates have different key types: not comparable")


def measureRounds(targets: list[Target], workloads: list[Workload], args, sink) -> list[dict]:
    """Every workload on every target, round after round, each run after a warm-up."""
    results = []
    for workload in workloads:
        warmUp = Workload(min(workload.clients, 10), min(workload.perConnection, 5))
        warmUpArgs = argparse.Namespace(**{**vars(args), "messages": 1, "client_processes": 1})
        # Every target in turn, round after round: a minute when this
        # host is slow then falls on all of them alike.
        for _ in range(args.rounds):
            for t in targets:
                measure("warm-up", t.port, t.user, t.password, sink, warmUpArgs, warmUp, None)
                results.append(
                    measure(
                        t.name,
                        t.port,
                        t.user,
                        t.password,
                        sink,
                        args,
                        workload,
                        t.root,
                        t.database,
                        t.balancer,
                    )  # fmt: skip
                )
    return results


def main() -> None:
    parser = options(__doc__)
    parser.add_argument(
        "--workers",
        default=f"1,{os.cpu_count()}",
        help="gateways to measure, by --workers, comma-separated [default: 1 and the CPUs]",
    )
    args = parser.parse_args()
    try:
        workloads = workloadsFrom(args)
    except argparse.ArgumentTypeError as e:
        parser.error(str(e))
    workerCounts = sorted({int(n) for n in args.workers.split(",")})

    workdir = Path(tempfile.mkdtemp(prefix="bench-submit-"))
    sink = Sink()
    gateways = {}
    postfixDir = None
    try:
        print(
            f"{args.size} KB messages, distinct unless said, STARTTLS (+ AUTH at the gateway),"
            f" {args.key} certificates; {os.cpu_count()} CPUs; Python {sys.version.split()[0]};"
            f" load from {args.client_processes} process(es)",
            flush=True,
        )
        certificate = makeCertificate(workdir, args.key)
        for workers in workerCounts:
            gateways[workers] = startGateway(
                sink, workdir, workers, certificate, tuple(shlex.split(args.login_options))
            )
        targets = [
            Target(f"smtpeter -w {w}", port, "bench", password, process.pid)
            for w, (process, port, password) in gateways.items()
        ]
        if not args.no_postfix:
            postfix, postfixDir = startPostfix(args, sink)
            targets.append(postfix)
        checkKeys(targets)
        results = measureRounds(targets, workloads, args, sink)
        if postfixDir:
            summarize(results, workloads, args.rounds)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2))
    finally:
        for process, _, _ in gateways.values():
            process.send_signal(signal.SIGTERM)
            process.wait(30)
        if postfixDir:
            stopPostfix(args, postfixDir)
        sink.stop()
        shutil.rmtree(workdir, ignore_errors=True)


#: A load generator busy this share of the time or more sets the pace itself.
BUSY = 0.9


def _against(r: dict, base: dict | None, key: str) -> str:
    """C{r}'s ratio to C{base} for C{key}, in brackets (nothing without a base, or for it)."""
    return f" [{r[key] / base[key]:.2f}x]" if base and r is not base else ""


def summarize(
    results: list[dict], workloads: list[Workload], rounds: int, baseline: str | None = None
) -> None:
    """
    The medians of the rounds, per workload and target, and each gateway's
    ratios to Postfix; with C{baseline} (a target's name), its rates' and
    CPU's ratios to that target's too; a database's and a load balancer's
    shares of the CPU, where they were measured.
    """
    print(
        f"\nmedians of {rounds} rounds; ratios to Postfix: rates (higher is better),"
        " p99 and CPU per message (lower is better)"
        + (f"; [ratios to {baseline}]" if baseline else "")
    )
    for workload in workloads:
        same = medians([r for r in results if r["workload"] == workload.name])
        ref = next(r for r in same if r["target"] == "postfix")
        base = next((r for r in same if r["target"] == baseline), None)

        for r in same:
            print(
                f"{r['target']:>15} {r['workload']:>10}:"
                f" accepted {r['accepted_per_s']:6.1f}/s"
                f" ({r['accepted_per_s'] / ref['accepted_per_s']:.2f}x)"
                + _against(r, base, "accepted_per_s")
                + f"  end-to-end {r['end_to_end_per_s']:6.1f}/s"
                f" ({r['end_to_end_per_s'] / ref['end_to_end_per_s']:.2f}x)"
                + _against(r, base, "end_to_end_per_s")
                + f"  p50/p99 {r['p50_ms']:5.1f}/{r['p99_ms']:6.1f} ms"
                f" ({r['p99_ms'] / ref['p99_ms']:.2f}x)"
                f"  session p99 {r['session_p99_ms']:5.0f} ms"
                f" ({r['session_p99_ms'] / ref['session_p99_ms']:.2f}x)"
                f"  CPU {r['cpu_ms_per_msg']:.2f} ms/msg"
                f" ({r['cpu_ms_per_msg'] / ref['cpu_ms_per_msg']:.2f}x)"
                + _against(r, base, "cpu_ms_per_msg")
                + (f" (db {r['db_cpu_ms_per_msg']:.2f})" if r.get("db_cpu_ms_per_msg") else "")
                + (f" (lb {r['lb_cpu_ms_per_msg']:.2f})" if r.get("lb_cpu_ms_per_msg") else "")
                + f"  client busy {r['client_busy']:.0%}",
                flush=True,
            )
        if max(r["client_busy"] for r in same) >= BUSY:
            print(
                f"{'':>15} {workload.name:>10}: the load generator was busy"
                f" {BUSY:.0%} of the time or more: these rates may be its own limit"
                " (more --client-processes may tell)",
                flush=True,
            )


if __name__ == "__main__":
    main()
