"""The parent's side of a worker: its log lines relayed, its readiness and last error seen."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from twisted.logger import eventAsJSON, globalLogPublisher

from smtpeter.config import Config
from smtpeter.process._supervisor import MAX_LINE, Supervisor, WorkerProcess


class FakeSupervisor:
    def __init__(self) -> None:
        self.ready = []

    def workerReady(self, process) -> None:
        self.ready.append(process.index)


def relayed(process: WorkerProcess, *chunks: bytes, childFD: int = 1) -> list[dict]:
    seen: list[dict] = []
    globalLogPublisher.addObserver(seen.append)
    try:
        for chunk in chunks:
            process.childDataReceived(childFD, chunk)
    finally:
        globalLogPublisher.removeObserver(seen.append)
    return seen


def jsonLine(**event) -> bytes:
    event.setdefault("log_time", 1.0)
    return b"\x1e" + eventAsJSON(event).encode() + b"\n"


def test_events_are_relayed_marked_with_their_worker_even_split_across_reads():
    supervisor = FakeSupervisor()
    process = WorkerProcess(supervisor, 2)
    line = jsonLine(log_format="queued {qid}", qid="Q1", log_namespace="smtpeter.smtp")
    seen = relayed(process, line[:10], line[10:])
    [event] = [e for e in seen if e.get("qid") == "Q1"]
    assert event["worker"] == 2 and event["log_system"].startswith("worker 2 smtpeter.smtp")
    assert supervisor.ready == [] and not process.ready


def test_the_ready_line_makes_the_worker_ready():
    supervisor = FakeSupervisor()
    process = WorkerProcess(supervisor, 1)
    relayed(process, jsonLine(log_format="ready", smtpeter_ready=True))
    assert process.ready and supervisor.ready == [1]


def test_standard_error_is_kept_as_the_last_error_and_lines_stay_bounded():
    process = WorkerProcess(FakeSupervisor(), 1)
    relayed(process, b"Traceback (most recent call last):\nValueError: boom\n", childFD=2)
    assert process.lastError == "ValueError: boom"
    relayed(process, b"x" * (MAX_LINE + 10), childFD=2)
    assert process._partial[2] == b"" and process.lastError.startswith("xxx")


def test_a_line_that_is_not_json_is_logged_as_text():
    seen = relayed(WorkerProcess(FakeSupervisor(), 3), b"plain words\n")
    assert any(e.get("line") == "plain words" and e.get("worker") == 3 for e in seen)


def test_the_parent_closing_its_copy_of_a_listener_leaves_it_serving_the_workers():
    """At stop the parent closes its sockets first; the workers' copies must still accept."""
    from twisted.internet import reactor

    supervisor = Supervisor(Config(data=Path("unused"), hostname="gw.test"), [], reactor)
    listener = supervisor._open("smtp", "tcp:0:interface=127.0.0.1")
    workers = socket.socket(fileno=os.dup(listener.port.fileno()))  # what a worker holds
    try:
        listener.port.connectionLost(None)  # what stopListening ends in
        client = socket.create_connection(("127.0.0.1", workers.getsockname()[1]), timeout=5)
        workers.settimeout(5)
        accepted, _ = workers.accept()
        accepted.close()
        client.close()
    finally:
        workers.close()


class SpawnRecorder:
    """A reactor that records the processes it is asked to start."""

    def __init__(self) -> None:
        self.spawned: list[list[str]] = []

    def seconds(self) -> float:
        return 0.0

    def spawnProcess(self, protocol, executable, args, env=None, childFDs=None):
        self.spawned.append(args)


def test_a_worker_runs_the_worker_module_by_its_name():
    """The command line names a module that exists, run with -m as the package layout has it."""
    import importlib.util
    import subprocess
    import sys

    reactor = SpawnRecorder()
    config = Config(data=Path("unused"), hostname="gw.test")
    supervisor = Supervisor(config, ["--hostname", "gw.test"], reactor)
    supervisor.board = type("Board", (), {"fd": 3})()
    supervisor._spawn(1)
    [arguments] = reactor.spawned
    assert arguments[1:4] == ["-m", "smtpeter.process._worker", "1"]
    assert arguments[-2:] == ["--hostname", "gw.test"]
    assert importlib.util.find_spec(arguments[2]) is not None
    # runpy warns (and runs a second copy) if the package imported the module already.
    code = (
        "import sys, smtpeter.process\n"
        "print('smtpeter.process._worker' in sys.modules, 'twisted.internet.reactor' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
