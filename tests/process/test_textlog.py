"""A gateway in one process writes its own text log, line for line as twistd's would be."""

from __future__ import annotations

from twisted.application.service import Application, IService, Service
from twisted.internet.task import Clock
from twisted.logger import ILogObserver, Logger, formatEventAsClassicLogText
from twisted.python.failure import Failure

from smtpeter.process import OwnTextLog


class Output:
    """Standard output: each write as it came."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.chunks.append(data)
        return len(data)

    def flush(self) -> None:
        pass

    def getvalue(self) -> bytes:
        return b"".join(self.chunks)


def logged(level: str, format: str, **fields) -> dict:
    events: list[dict] = []
    getattr(Logger(namespace="smtpeter.test", observer=events.append), level)(format, **fields)
    return events[0]


class Reactor(Clock):
    running = True

    def __init__(self) -> None:
        super().__init__()
        self.triggers: list = []

    def addSystemEventTrigger(self, phase, event, f, *args):
        self.triggers.append((phase, event, f))


def failed() -> dict:
    events: list[dict] = []
    try:
        int("not a number")
    except ValueError:
        Logger(namespace="smtpeter.test", observer=events.append).failure("it broke", Failure())
    return events[0]


def test_the_lines_are_twistds():
    reactor, output = Reactor(), Output()
    observer = OwnTextLog(Service(), reactor, output).observer
    events = [
        logged("info", "queued {qid} for {n} {{braces}}", qid="Q1", n=2),
        logged("info", "two\nlines, {what}", what="é"),
        logged("warn", "careful {n}", n=1),
        dict(logged("info", "(TCP Port 25 Closed)"), log_system="-"),  # a legacy event
        failed(),
    ]
    for event in events:
        observer(event)
    reactor.advance(1)
    expected = b"".join(
        formatEventAsClassicLogText(event).encode("utf-8", "backslashreplace") for event in events
    )
    assert sorted(output.getvalue().splitlines()) == sorted(expected.splitlines())
    assert b"ValueError" in output.getvalue()


def test_informational_lines_are_written_together_and_before_the_process_ends():
    reactor, output = Reactor(), Output()
    observer = OwnTextLog(Service(), reactor, output).observer
    observer(logged("info", "one"))
    observer(logged("info", "two"))
    assert output.getvalue() == b""
    [(phase, event, flush)] = reactor.triggers
    assert (phase, event) == ("after", "shutdown")
    flush()
    assert output.chunks == [output.getvalue()]
    assert output.getvalue().count(b"\n") == 2


def test_twistd_takes_it_as_its_log_observer():
    reactor, output = Reactor(), Output()
    inner = Service()
    service = OwnTextLog(inner, reactor, output)
    application = Application("smtpeter")
    service.setServiceParent(application)
    assert application.getComponent(ILogObserver) is service.observer
    assert list(IService(application)) == [service]
    assert list(service) == [inner]
