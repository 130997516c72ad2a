#!/usr/bin/env python3
"""
The gateway on PostgreSQL beside the same gateway on SQLite and the
reference Postfix, in one run (the workloads, the load generator, the
sink and the figures of bench/submit.py, whose options it takes):

  smtpeter -w N   one node on SQLite (its data directory), --workers N;
  pg -w N         one node on PostgreSQL, --workers N;
  pg 2x1 haproxy  with --nodes 2: two nodes on one PostgreSQL, --workers 1
                  each, behind Debian's HAProxy (mode tcp, balance
                  leastconn, send-proxy-v2 and the health checks of
                  docs/cluster.md; the nodes run with --proxy-protocol
                  127.0.0.1/32): the clients connect to HAProxy's one port;
  pg 2x1 nodes    the same with --no-balancer: no HAProxy, the clients
                  take the nodes' ports in turn (the nodes alone, without
                  the balancer's cost);
  postfix         the reference Postfix.

Each PostgreSQL target has a PostgreSQL of its own (smtpeter.testing's:
initdb into a temporary directory, a Unix socket only), with fsync and
full page writes ON, PostgreSQL's defaults (synchronous_commit on): its
durability is part of what is measured, as the SQLite spool's fsync is.
A PostgreSQL target's CPU per message includes its PostgreSQL's processes
(the postmaster's tree, exited backends too), also printed alone ("db");
the two nodes' behind HAProxy includes HAProxy's too (its one process,
all its threads), also printed alone ("lb"). The table gives each
gateway's ratios to Postfix and, in brackets, to the gateway on SQLite;
a last table (with --no-postfix too) gives each
PostgreSQL target's rates against the node on SQLite, and its CPU per
message: the gateway's processes + PostgreSQL's (+ HAProxy's, behind it).

    python bench/cluster.py --workers 2 --nodes 2 --key ec --rounds 1 --messages 3000

Targets: one node on PostgreSQL at least 0.8x the same node on SQLite;
two nodes (behind HAProxy, its CPU counted) at least as fast as one node
with --workers 2 on the same cores. --nodes 2 needs Debian's haproxy
(apt-get install haproxy), but with --no-balancer.
Every target stays up while the others are measured: the idle PostgreSQL
nodes claim and renew every second or so (a little of every other
target's CPU).
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from submit import (  # noqa: E402  (bench/ is the script's own directory)
    Sink,
    Target,
    checkKeys,
    makeCertificate,
    measureRounds,
    medians,
    options,
    startGateway,
    startPostfix,
    stopPostfix,
    summarize,
    workloadsFrom,
)

from smtpeter.testing import HAProxy, PostgreSQLServer


def startPostgreSQL() -> tuple[PostgreSQLServer, int]:
    """A PostgreSQL of its own, with fsync on: the server and its postmaster's pid."""
    bindir = PostgreSQLServer.binaries()
    if bindir is None:
        raise SystemExit("initdb is not installed: apt-get install postgresql")
    server = PostgreSQLServer(bindir, durable=True)
    server.start()
    return server, int((server.data / "postmaster.pid").read_text().split()[0])


def againstSQLite(results: list[dict], workloads, rounds: int, baseline: str) -> None:
    """
    Each PostgreSQL target beside the node on SQLite (medians of the
    rounds): its rates' ratios, and the CPU per message of the gateway's
    processes, of PostgreSQL's and of HAProxy's apart (what the target of
    0.8x costs).
    """
    print(
        f"\nmedians of {rounds} round(s), against {baseline}: rates' ratios (higher is"
        " better); CPU ms per message of the gateway's processes + PostgreSQL's"
        " (+ HAProxy's, behind it)"
    )
    for workload in workloads:
        same = medians([r for r in results if r["workload"] == workload.name])
        base = next(r for r in same if r["target"] == baseline)
        for r in same:
            if r["target"] == "postfix":
                continue
            db, lb = r["db_cpu_ms_per_msg"], r.get("lb_cpu_ms_per_msg", 0.0)
            print(
                f"{r['target']:>15} {r['workload']:>10}:"
                f" accepted {r['accepted_per_s']:6.1f}/s"
                f" ({r['accepted_per_s'] / base['accepted_per_s']:.2f}x)"
                f"  end-to-end {r['end_to_end_per_s']:6.1f}/s"
                f" ({r['end_to_end_per_s'] / base['end_to_end_per_s']:.2f}x)"
                f"  p99 {r['p99_ms']:6.1f} ms"
                f"  CPU {r['cpu_ms_per_msg'] - db - lb:.2f} + {db:.2f}"
                + (f" + {lb:.2f}" if r["target"] == BEHIND_HAPROXY else "")
                + " ms/msg",
                flush=True,
            )


#: The name of the two nodes behind HAProxy (without it: L{NODES_ALONE}).
BEHIND_HAPROXY = "pg 2x1 haproxy"
NODES_ALONE = "pg 2x1 nodes"


def startNodes(
    sink, workdir: Path, certificate, login, uri: str, balanced: bool, processes: list
) -> list:
    """
    Two nodes of one worker on the database C{uri}: each (process, SMTP
    port, password), the login's on the first only; each process is added
    to C{processes} as it starts (for the caller to stop, even if the next
    fails). C{balanced}: they take connections from HAProxy only
    (C{--proxy-protocol 127.0.0.1/32}).
    """
    trusting = ("--proxy-protocol", "127.0.0.1/32") if balanced else ()
    nodes = []
    for node in ("a", "b"):
        nodes.append(
            startGateway(
                sink,
                workdir,
                1,
                (*certificate, "--node", node, *trusting),
                login,
                f"pg-node-{node}",
                uri,
                login=node == "a",
            )  # fmt: skip
        )
        processes.append(nodes[-1][0])
    return nodes


def startHAProxy(workdir: Path, nodes: list) -> HAProxy:
    """
    Debian's HAProxy in front of C{nodes} (L{startNodes}), as
    docs/cluster.md configures it (leastconn, tcp-smart-connect, send-proxy-v2,
    health checks every 5 s; one thread), once it sees both up; clients connect to its port
    C{ports["smtp"]}.
    """
    balancer = HAProxy(workdir / "haproxy").start(
        {
            "smtp": [
                "balance leastconn",
                "option tcp-smart-connect",
                "option tcp-check",
                "tcp-check expect rstring ^220",
                r"tcp-check send QUIT\r\n",
                "tcp-check expect rstring ^221",
                "default-server send-proxy-v2 check check-send-proxy inter 5s",
                *(
                    f"server {name} 127.0.0.1:{port}"
                    for name, (_, port, _) in zip("ab", nodes, strict=True)
                ),
            ]
        },
        # Above any workload's clients (haproxy raises its open-file limit to
        # match); one thread, as docs/cluster.md advises for a balancer that
        # shares the nodes' cores: its second thread cost more CPU per
        # message than it gave.
        settings=["maxconn 4096", "nbthread 1"],
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            states = {name: row["status"] for name, row in balancer.servers().items()}
        except OSError:  # its stats socket not answering yet
            states = {}
        if states and all(state == "UP" for state in states.values()):
            return balancer
        if time.monotonic() > deadline:
            balancer.stop()
            raise SystemExit(f"HAProxy does not see both nodes up: {states} (see {balancer.log})")
        time.sleep(0.2)


def main() -> None:
    parser = options(__doc__)
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="workers of the node on SQLite and of the node on PostgreSQL [default: 2]",
    )
    parser.add_argument(
        "--nodes",
        type=int,
        choices=(1, 2),
        default=1,
        help="2: also two nodes on one PostgreSQL, --workers 1 each, behind HAProxy [default: 1]",
    )
    parser.add_argument(
        "--no-balancer",
        action="store_true",
        help="with --nodes 2: no HAProxy, the clients take the two nodes' ports in turn",
    )
    args = parser.parse_args()
    if args.no_balancer and args.nodes != 2:
        parser.error("--no-balancer is for --nodes 2: add --nodes 2, or leave it out")
    if args.nodes == 2 and not args.no_balancer and HAProxy.binary() is None:
        parser.error("--nodes 2 needs haproxy: apt-get install haproxy, or add --no-balancer")
    try:
        workloads = workloadsFrom(args)
    except argparse.ArgumentTypeError as e:
        parser.error(str(e))

    workdir = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    sink = Sink()
    processes = []
    servers: list[PostgreSQLServer] = []
    balancer = None
    postfixDir = None
    login = tuple(shlex.split(args.login_options))
    try:
        print(
            f"{args.size} KB messages, STARTTLS (+ AUTH at the gateway), {args.key} certificates;"
            f" PostgreSQL with fsync on; load from {args.client_processes} process(es)",
            flush=True,
        )
        certificate = makeCertificate(workdir, args.key)
        w = args.workers
        process, port, password = startGateway(sink, workdir, w, certificate, login, f"sqlite-{w}")
        processes.append(process)
        baseline = f"smtpeter -w {w}"
        targets = [Target(baseline, port, "bench", password, process.pid)]

        server, postmaster = startPostgreSQL()
        servers.append(server)
        process, port, password = startGateway(
            sink, workdir, w, (*certificate, "--node", "a"), login, f"pg-{w}", server.uri()
        )
        processes.append(process)
        targets.append(Target(f"pg -w {w}", port, "bench", password, process.pid, (postmaster,)))

        if args.nodes == 2:
            server, postmaster = startPostgreSQL()
            servers.append(server)
            nodes = startNodes(
                sink, workdir, certificate, login, server.uri(), not args.no_balancer, processes
            )
            pids = tuple(process.pid for process, _, _ in nodes)
            if args.no_balancer:
                ports = tuple(port for _, port, _ in nodes)
                targets.append(
                    Target(NODES_ALONE, ports, "bench", nodes[0][2], pids, (postmaster,))
                )
            else:
                balancer = startHAProxy(workdir, nodes)
                assert balancer.process is not None
                targets.append(
                    Target(
                        BEHIND_HAPROXY,
                        balancer.ports["smtp"],
                        "bench",
                        nodes[0][2],
                        pids,
                        (postmaster,),
                        (balancer.process.pid,),
                    )
                )
        if not args.no_postfix:
            postfix, postfixDir = startPostfix(args, sink)
            targets.append(postfix)
        checkKeys(targets)
        results = measureRounds(targets, workloads, args, sink)
        if postfixDir:
            summarize(results, workloads, args.rounds, baseline)
        againstSQLite(results, workloads, args.rounds, baseline)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2))
    finally:
        if balancer is not None:
            balancer.stop()
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(30)
        for server in servers:
            server.stop()
        if postfixDir:
            stopPostfix(args, postfixDir)
        sink.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
