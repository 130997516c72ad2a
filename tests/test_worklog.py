"""A worker's log lines: formatted once in the worker, read back by the parent, written in batches."""

from __future__ import annotations

import io
import threading

from twisted.internet.task import Clock
from twisted.logger import Logger, LogLevel, formatEventAsClassicLogText

from smtpeter._worklog import FLUSH_INTERVAL, WorkerLogWriter, decodeLine, encodeEvent


def logged(level: str, format: str, **fields) -> dict:
    events: list[dict] = []
    getattr(Logger(namespace="smtpeter.test", observer=events.append), level)(format, **fields)
    return events[0]


def test_the_text_is_formatted_in_the_worker_and_the_fields_kept():
    event = logged("info", "queued {qid} for {n} {{braces}} {thing!r}", qid="Q1", n=2, thing=b"x")
    line = encodeEvent(event)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    back = decodeLine(line.decode())
    assert back["log_level"] is LogLevel.info
    assert back["log_namespace"] == "smtpeter.test" and back["log_time"] == event["log_time"]
    assert back["qid"] == "Q1" and back["n"] == 2 and back["thing"] == "b'x'"
    text = formatEventAsClassicLogText(back)
    assert text.endswith("[smtpeter.test#info] queued Q1 for 2 {braces} b'x'\n")


def test_formats_that_call_a_field_are_still_formatted():
    back = decodeLine(
        encodeEvent(logged("warn", "{f()} {n.real}", f=lambda: "called", n=3)).decode()
    )
    assert formatEventAsClassicLogText(back).endswith(" called 3\n")


def test_a_failure_keeps_its_traceback():
    events: list[dict] = []
    try:
        raise ZeroDivisionError("no")
    except ZeroDivisionError:
        Logger(namespace="smtpeter.test", observer=events.append).failure("it broke")
    back = decodeLine(encodeEvent(events[0]).decode())
    assert back["log_level"] is LogLevel.critical
    assert "ZeroDivisionError" in formatEventAsClassicLogText(back)


def test_a_field_that_cannot_be_written_leaves_the_text():
    cycle: list = []
    cycle.append(cycle)
    back = decodeLine(encodeEvent(logged("info", "odd {n}", n=1, cycle=cycle)).decode())
    assert "cycle" not in back and formatEventAsClassicLogText(back).endswith(" odd 1\n")


def test_lines_that_are_not_events_are_refused():
    for text in ("[1, 2]", '{"log_level": "loud"}', "not json"):
        try:
            decodeLine(text)
        except ValueError:
            continue
        raise AssertionError(f"{text!r} was taken for an event")


class Output(io.BytesIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, data: bytes) -> int:
        self.writes += 1
        return super().write(data)


def writer() -> tuple[WorkerLogWriter, Output, Clock]:
    clock = Clock()
    clock.running = True
    output = Output()
    return WorkerLogWriter(output, clock), output, clock


def test_info_lines_are_gathered_and_written_together():
    log, output, clock = writer()
    for n in range(3):
        log(logged("info", "line {n}", n=n))
        clock.advance(FLUSH_INTERVAL / 4)
    assert output.getvalue() == b""
    clock.advance(FLUSH_INTERVAL)
    assert output.getvalue().count(b"\n") == 3 and output.writes == 1


def test_warnings_the_ready_event_and_other_threads_are_written_at_once():
    log, output, clock = writer()
    log(logged("info", "first"))
    log(logged("warn", "careful"))
    assert output.getvalue().count(b"\n") == 2, "the warning takes the pending line with it"
    log(logged("info", "ready", smtpeter_ready=True))
    assert output.getvalue().count(b"\n") == 3
    thread = threading.Thread(target=log, args=(logged("info", "from a thread"),))
    thread.start()
    thread.join()
    assert b"from a thread" in output.getvalue()
    clock.running = False
    log(logged("info", "after the reactor"))
    assert b"after the reactor" in output.getvalue()
    clock.advance(FLUSH_INTERVAL)
    assert output.getvalue().count(b"\n") == 5


class Interrupted(Output):
    """An output whose write is interrupted by a signal handler that logs (SIGTERM's line)."""

    def __init__(self) -> None:
        super().__init__()
        self.handler = None

    def write(self, data: bytes) -> int:
        written = super().write(data)
        handler, self.handler = self.handler, None
        if handler is not None:
            handler()
        return written


def test_a_line_logged_while_a_write_is_in_progress_follows_it():
    # A worker hung for good when SIGTERM arrived during a flush: the
    # handler's log line waited for the lock the flush held.
    def run():
        clock = Clock()
        clock.running = True
        output = Interrupted()
        log = WorkerLogWriter(output, clock)
        output.handler = lambda: (
            log(logged("info", "Received SIGTERM, shutting down.")),
            log(logged("warn", "and a warning")),
        )
        log(logged("warn", "being written"))
        clock.advance(FLUSH_INTERVAL)
        results.append(output.getvalue())

    results: list[bytes] = []
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(5)
    assert not thread.is_alive(), "the writer deadlocked"
    lines = results[0].splitlines()
    assert [decodeLine(line.decode())["log_format"] for line in lines] == [
        "being written",
        "Received SIGTERM, shutting down.",
        "and a warning",
    ]
