"""The workers' reactor runs calls from threads between the events of one turn."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

from twisted.internet.abstract import FileDescriptor
from twisted.internet.epollreactor import EPollReactor
from twisted.internet.error import ConnectionDone
from twisted.internet.main import CONNECTION_DONE
from twisted.logger import globalLogPublisher

from smtpeter.runtime._reactor import PromptEPollReactor


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


def runThreadCallsLogged(reactor) -> list[dict]:
    """Run the reactor's calls from threads once, then close it: the events logged meanwhile."""
    seen: list[dict] = []
    globalLogPublisher.addObserver(seen.append)
    try:
        reactor._runThreadCalls()
    finally:
        globalLogPublisher.removeObserver(seen.append)
        close(reactor)
    return seen


def test_a_failing_call_is_logged_and_the_others_still_run():
    reactor = PromptEPollReactor()
    ran = []

    def fail():
        raise RuntimeError("boom")

    reactor.threadCallQueue.extend([(ran.append, (1,), {}), (fail, (), {}), (ran.append, (2,), {})])
    seen = runThreadCallsLogged(reactor)
    assert ran == [1, 2]
    assert reactor.threadCallQueue == []
    assert any(e.get("log_failure") and e["log_failure"].check(RuntimeError) for e in seen)


def test_a_second_stop_from_a_signal_while_stopping_is_no_failure():
    """A terminal's ^C reaches a worker twice (directly, and from its supervisor)."""
    reactor = PromptEPollReactor()
    reactor._stopped = True  # stopping already: stop() would raise ReactorNotRunning
    reactor.threadCallQueue.append((reactor.stop, (), {}))
    seen = runThreadCallsLogged(reactor)
    assert not any(e.get("log_failure") for e in seen)


def test_install_makes_it_the_processes_reactor():
    """What each worker process does first (smtpeter.process._worker.main)."""
    code = (
        "from smtpeter.runtime import install; install()\n"
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


def fromThread(reactor, f, whenPolling: bool = False) -> threading.Thread:
    """
    C{reactor.callFromThread(f)} from a new thread; with C{whenPolling},
    once the reactor says it polls (C{_polling}, set before it looks at the
    thread calls and then waits in C{epoll_wait}).
    """

    def call() -> None:
        deadline = time.monotonic() + 10
        while whenPolling and not reactor._polling and time.monotonic() < deadline:
            time.sleep(0.001)
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
        thread = fromThread(reactor, lambda: ran.append(1), whenPolling=True)
        started = time.monotonic()
        reactor.doIteration(10)
        assert time.monotonic() - started < 5
        thread.join()
        assert woken == [1]
        reactor.runUntilCurrent()
        assert ran == [1]
    finally:
        close(reactor)


class Failing(FileDescriptor):
    """A reader whose doRead fails, as a protocol's bug would."""

    def __init__(self, reactor, sock: socket.socket) -> None:
        super().__init__(reactor)
        self.sock = sock
        self.lost = []

    def fileno(self) -> int:
        return self.sock.fileno()

    def logPrefix(self) -> str:
        return "Failing,7,127.0.0.1"

    def doRead(self) -> None:
        raise RuntimeError("a bug")

    def connectionLost(self, reason) -> None:
        self.lost.append(reason)
        self.reactor.removeReader(self)


def test_an_event_that_fails_is_logged_with_its_connection_which_is_dropped():
    """The others are still served, in the same turn and after."""
    reactor = PromptEPollReactor()
    order: list[str] = []
    pairs = [socket.socketpair() for _ in range(2)]
    seen: list[dict] = []
    globalLogPublisher.addObserver(seen.append)
    try:
        failing = Failing(reactor, pairs[0][0])
        reactor.addReader(failing)
        reactor.addReader(Reader(reactor, pairs[1][0], "healthy", order))
        for _, theirs in pairs:
            theirs.send(b"x")
        reactor.doIteration(0)
        assert len(failing.lost) == 1 and failing.lost[0].check(RuntimeError)
        assert failing not in reactor.getReaders()
        assert order[0] == "healthy"
        pairs[1][1].send(b"y")
        reactor.doIteration(0)
        assert order.count("healthy") == 2
    finally:
        globalLogPublisher.removeObserver(seen.append)
        reactor.removeAll()
        for pair in pairs:
            for s in pair:
                s.close()
        close(reactor)
    failures = [e for e in seen if e.get("log_failure") is not None]
    assert len(failures) == 1
    assert failures[0]["log_failure"].check(RuntimeError)
    assert failures[0]["prefix"] == "Failing,7,127.0.0.1"


def test_a_peer_that_hangs_up_is_disconnected_cleanly():
    reactor = PromptEPollReactor()
    ours, theirs = socket.socketpair()
    lost = []

    class Quiet(Reader):
        def doRead(self):
            data = self.sock.recv(100)
            return None if data else CONNECTION_DONE

        def connectionLost(self, reason):
            lost.append(reason)
            reactor.removeReader(self)

    try:
        reactor.addReader(Quiet(reactor, ours, "quiet", []))
        theirs.close()
        reactor.doIteration(0)
        assert len(lost) == 1 and lost[0].check(ConnectionDone)
    finally:
        reactor.removeAll()
        ours.close()
        close(reactor)
