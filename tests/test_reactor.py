"""The workers' reactor runs calls from threads between the events of one turn."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

from twisted.internet.abstract import FileDescriptor
from twisted.internet.epollreactor import EPollReactor
from twisted.logger import globalLogPublisher

from smtpeter._reactor import PromptEPollReactor


class Reader(FileDescriptor):
    """Reads one socket; the first of two to read hands the reactor a call from a thread."""

    def __init__(self, reactor, sock: socket.socket, name: str, order: list) -> None:
        super().__init__(reactor)
        self.sock, self.name, self.order = sock, name, order

    def fileno(self) -> int:
        return self.sock.fileno()

    def doRead(self) -> None:
        self.sock.recv(100)
        self.order.append(self.name)
        if len(self.order) == 1:
            thread = threading.Thread(
                target=self.reactor.callFromThread, args=(self.order.append, "from a thread")
            )
            thread.start()
            thread.join()


def turnWithTwoReadyConnections(reactor) -> list[str]:
    """One turn's events (no timers, no start of turn) for two ready sockets: what ran, in order."""
    order: list[str] = []
    pairs = [socket.socketpair() for _ in range(2)]
    try:
        for n, (ours, theirs) in enumerate(pairs):
            reactor.addReader(Reader(reactor, ours, f"connection {n}", order))
            theirs.send(b"x")
        reactor.doIteration(0)
        return [name.split()[0] for name in order]
    finally:
        reactor.removeAll()
        for pair in pairs:
            for s in pair:
                s.close()
        close(reactor)


def close(reactor) -> None:
    reactor.waker.connectionLost(None)
    reactor._poller.close()


def test_a_call_from_a_thread_runs_before_the_next_ready_connection():
    assert turnWithTwoReadyConnections(PromptEPollReactor()) == ["connection", "from", "connection"]


def test_twisteds_own_reactor_leaves_it_for_the_next_turn():
    """What the prompt reactor changes (if Twisted changes, this says so)."""
    assert turnWithTwoReadyConnections(EPollReactor()) == ["connection", "connection"]


def test_a_failing_call_is_logged_and_the_others_still_run():
    reactor = PromptEPollReactor()
    ran = []

    def fail():
        raise RuntimeError("boom")

    reactor.threadCallQueue.extend([(ran.append, (1,), {}), (fail, (), {}), (ran.append, (2,), {})])
    seen = []
    globalLogPublisher.addObserver(seen.append)
    try:
        reactor._runThreadCalls()
    finally:
        globalLogPublisher.removeObserver(seen.append)
        close(reactor)
    assert ran == [1, 2]
    assert reactor.threadCallQueue == []
    assert any(e.get("log_failure") and e["log_failure"].check(RuntimeError) for e in seen)


def test_install_makes_it_the_processes_reactor():
    """What each worker process does first (smtpeter._worker.main)."""
    code = (
        "from smtpeter._reactor import install; install()\n"
        "from twisted.internet import reactor; print(type(reactor).__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "PromptEPollReactor"


def countingWakeUps(reactor) -> list[int]:
    """Make the reactor's waker count its wake-ups (writes to its pipe) instead of writing."""
    woken = [0]
    write = reactor.waker.wakeUp

    def wakeUp() -> None:
        woken[0] += 1
        write()

    reactor.waker.wakeUp = wakeUp
    return woken


def fromThread(reactor, f, delay: float = 0.0) -> threading.Thread:
    def call() -> None:
        time.sleep(delay)
        reactor.callFromThread(f)

    thread = threading.Thread(target=call)
    thread.start()
    return thread


def test_a_call_from_a_thread_while_the_reactor_is_busy_costs_no_wake_up():
    reactor = PromptEPollReactor()
    woken = countingWakeUps(reactor)
    ran = []
    try:
        fromThread(reactor, lambda: ran.append(1)).join()  # not in poll: busy
        assert woken == [0]
        started = time.monotonic()
        reactor.doIteration(10)  # does not wait: a call is queued
        assert time.monotonic() - started < 5
        reactor.runUntilCurrent()
        assert ran == [1]
    finally:
        close(reactor)


def test_a_call_from_a_thread_wakes_the_reactor_waiting_in_poll():
    reactor = PromptEPollReactor()
    woken = countingWakeUps(reactor)
    ran = []
    try:
        thread = fromThread(reactor, lambda: ran.append(1), delay=0.1)
        started = time.monotonic()
        reactor.doIteration(10)
        assert time.monotonic() - started < 5
        thread.join()
        assert woken == [1]
        reactor.runUntilCurrent()
        assert ran == [1]
    finally:
        close(reactor)
