#!/usr/bin/env python3
"""
The gateway on PostgreSQL beside the same gateway on SQLite and the
reference Postfix, in one run (the workloads, the load generator, the
sink and the figures of bench/submit.py, whose options it takes):

  smtpeter -w N   one node on SQLite (its data directory), --workers N;
  pg -w N         one node on PostgreSQL, --workers N;
  pg 2x1 ...      with --nodes 2: two nodes on one PostgreSQL, --workers 1
                  each, the clients taking them in turn (as behind a TCP
                  balancer, without the balancer's own cost);
  postfix         the reference Postfix.

Each PostgreSQL target has a PostgreSQL of its own (smtpeter.testing's:
initdb into a temporary directory, a Unix socket only), with fsync and
full page writes ON, PostgreSQL's defaults (synchronous_commit on): its
durability is part of what is measured, as the SQLite spool's fsync is.
A PostgreSQL target's CPU per message includes its PostgreSQL's processes
(the postmaster's tree, exited backends too), also printed alone ("db").
The table gives each gateway's ratios to Postfix and, in brackets, to the
gateway on SQLite; a last table (with --no-postfix too) gives each
PostgreSQL target's rates against the node on SQLite, and its CPU per
message: the gateway's processes + PostgreSQL's.

    python bench/cluster.py --workers 2 --nodes 2 --key ec --rounds 1 --messages 3000

Targets: one node on PostgreSQL at least 0.8x the same node on SQLite;
two nodes at least as fast as one node with --workers 2 on the same cores.
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

from smtpeter.testing import PostgreSQLServer


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
    processes and of PostgreSQL's apart (what the target of 0.8x costs).
    """
    print(
        f"\nmedians of {rounds} round(s), against {baseline}: rates' ratios (higher is"
        " better); CPU ms per message of the gateway's processes + PostgreSQL's"
    )
    for workload in workloads:
        same = medians([r for r in results if r["workload"] == workload.name])
        base = next(r for r in same if r["target"] == baseline)
        for r in same:
            if r["target"] == "postfix":
                continue
            db = r["db_cpu_ms_per_msg"]
            print(
                f"{r['target']:>15} {r['workload']:>10}:"
                f" accepted {r['accepted_per_s']:6.1f}/s"
                f" ({r['accepted_per_s'] / base['accepted_per_s']:.2f}x)"
                f"  end-to-end {r['end_to_end_per_s']:6.1f}/s"
                f" ({r['end_to_end_per_s'] / base['end_to_end_per_s']:.2f}x)"
                f"  p99 {r['p99_ms']:6.1f} ms"
                f"  CPU {r['cpu_ms_per_msg'] - db:.2f} + {db:.2f} ms/msg",
                flush=True,
            )


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
        help="2: also two nodes on one PostgreSQL, --workers 1 each, the clients spread over"
        " both [default: 1]",
    )
    args = parser.parse_args()
    try:
        workloads = workloadsFrom(args)
    except argparse.ArgumentTypeError as e:
        parser.error(str(e))

    workdir = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    sink = Sink()
    processes = []
    servers: list[PostgreSQLServer] = []
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
            nodes = []
            for node in ("a", "b"):
                nodes.append(
                    startGateway(
                        sink,
                        workdir,
                        1,
                        (*certificate, "--node", node),
                        login,
                        f"pg-node-{node}",
                        server.uri(),
                        login=node == "a",
                    )  # fmt: skip
                )
                processes.append(nodes[-1][0])
            targets.append(
                Target(
                    "pg 2x1 nodes",
                    tuple(port for _, port, _ in nodes),
                    "bench",
                    nodes[0][2],
                    tuple(p.pid for p, _, _ in nodes),
                    (postmaster,),
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
