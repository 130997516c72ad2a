"""A worker's log lines: formatted once in the worker, read back by the parent, written in batches."""

from __future__ import annotations

import io
import threading

from twisted.internet.task import Clock
from twisted.logger import Logger, LogLevel, formatEventAsClassicLogText

from smtpeter.process._worklog import (
    ATOMIC_WRITE,
    FLUSH_INTERVAL,
    WorkerLogWriter,
    decodeLine,
    encodeEvent,
    textLine,
)


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


def test_a_failure_keeps_what_went_wrong():
    # Its exception is no JSON: its type and text go to the parent instead
    # of "UnicodeEncodeError: {'unpersistable': True}".
    events: list[dict] = []
    try:
        "caf\u00e9".encode("ascii")
    except UnicodeEncodeError:
        Logger(namespace="smtpeter.test", observer=events.append).failure("it broke")
    failure = events[0]["log_failure"]
    back = decodeLine(encodeEvent(events[0]).decode())
    text = formatEventAsClassicLogText(back)
    assert "unpersistable" not in text
    assert (
        "builtins.UnicodeEncodeError: 'ascii' codec can't encode character '\\xe9'"
        " in position 3: ordinal not in range(128)\n" in text
    ), text
    assert back["log_failure"].getErrorMessage().startswith("'ascii' codec can't encode")
    assert 'File "' in text and "in test_a_failure_keeps_what_went_wrong" in text
    # The worker's own event is left as it was.
    assert events[0]["log_failure"] is failure and isinstance(failure.value, UnicodeEncodeError)


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


def relayed(event: dict, index: int) -> dict:
    """The event as the parent publishes it (L{smtpeter.process._supervisor.WorkerProcess._relay})."""
    back = decodeLine(encodeEvent(event).decode())
    back["log_system"] = f"worker {index} {back['log_namespace']}#{back['log_level'].name}"
    return back


def test_a_text_line_is_what_the_parent_would_have_written():
    for event in (
        logged("info", "queued {qid} for {n} {{braces}}", qid="Q1", n=2),
        logged("info", "two\nlines, {what}", what="é"),
        logged("debug", "{f()}", f=lambda: "called"),
    ):
        expected = formatEventAsClassicLogText(relayed(event, 3)).encode()
        assert textLine(event, "worker 3") == expected
    assert textLine({"log_time": 0.0, "log_namespace": "x"}, "worker 1") == b""


class Direct(Output):
    """A worker's own output: each write as it came, or failing once told to."""

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[bytes] = []
        self.broken: OSError | None = None

    def write(self, data: bytes) -> int:
        if self.broken is not None:
            raise self.broken
        self.chunks.append(data)
        return super().write(data)


def directWriter() -> tuple[WorkerLogWriter, Output, Direct, Clock]:
    clock = Clock()
    clock.running = True
    output, direct = Output(), Direct()
    return WorkerLogWriter(output, clock, direct, "worker 2"), output, direct, clock


def test_informational_lines_are_written_as_text_by_the_worker():
    log, output, direct, clock = directWriter()
    log(logged("info", "queued {qid}", qid="Q1"))
    log(logged("info", "delivered {qid}", qid="Q1"))
    assert direct.getvalue() == b"", "gathered, as lines for the parent are"
    clock.advance(FLUSH_INTERVAL)
    assert direct.chunks == [direct.getvalue()], "in one write"
    lines = direct.getvalue().decode().splitlines()
    assert [line.split("] ", 1)[1] for line in lines] == ["queued Q1", "delivered Q1"]
    assert all("[worker 2 smtpeter.test#info]" in line for line in lines)
    assert output.getvalue() == b"", "the parent had nothing to do"


def test_what_the_parent_acts_on_still_goes_to_it_after_the_text_before_it():
    log, output, direct, clock = directWriter()
    log(logged("info", "first"))
    log(logged("warn", "careful"))
    assert b"first" in direct.getvalue(), "written before the warning"
    log(logged("info", "ready", smtpeter_ready=True))
    try:
        raise ZeroDivisionError("no")
    except ZeroDivisionError:
        Logger(namespace="smtpeter.test", observer=log).failure("it broke", level=LogLevel.info)
    log(logged("info", "long {x}", x="x" * ATOMIC_WRITE))
    clock.advance(FLUSH_INTERVAL)
    relayed = [decodeLine(line.decode()) for line in output.getvalue().splitlines()]
    assert [e["log_format"].split(" ")[0] for e in relayed] == ["careful", "ready", "it", "long"]
    assert "ZeroDivisionError" in formatEventAsClassicLogText(relayed[2])
    assert direct.getvalue().count(b"\n") == 1


def test_text_goes_out_in_writes_a_pipe_takes_whole():
    log, output, direct, clock = directWriter()
    for n in range(200):
        log(logged("info", "line {n} {pad}", n=n, pad="p" * 60))
    clock.advance(FLUSH_INTERVAL)
    assert len(direct.chunks) > 1
    assert all(len(c) <= ATOMIC_WRITE and c.endswith(b"\n") for c in direct.chunks)
    numbers = [int(line.split(b"] line ")[1].split()[0]) for line in direct.getvalue().splitlines()]
    assert numbers == list(range(200))


def test_when_the_output_fails_the_parent_writes_the_lines():
    log, output, direct, clock = directWriter()
    log(logged("info", "before"))
    clock.advance(FLUSH_INTERVAL)
    direct.broken = BrokenPipeError(32, "Broken pipe")
    log(logged("info", "lost {n}", n=1))
    clock.advance(FLUSH_INTERVAL)
    log(logged("info", "after {n}", n=2))
    clock.advance(FLUSH_INTERVAL)
    lines = output.getvalue().decode().splitlines()
    assert "] lost 1" in lines[0], "the line the output refused, as text"
    warning = decodeLine(lines[1])
    assert warning["log_level"] is LogLevel.warn and "standard output" in warning["log_format"]
    assert decodeLine(lines[2])["log_format"] == "after 2"
    assert direct.getvalue().count(b"\n") == 1


def test_a_line_logged_while_the_failing_output_is_written_goes_to_the_parent_too():
    # A signal handler's line, logged as text while the write that then
    # fails was in progress, was written to the output already given up
    # (None): the flush raised, and the lines with it were lost.
    class Failing(Direct):
        def write(self, data: bytes) -> int:
            log(logged("info", "Received SIGTERM, shutting down."))
            raise BrokenPipeError(32, "Broken pipe")

    clock = Clock()
    clock.running = True
    output, direct = Output(), Failing()
    log = WorkerLogWriter(output, clock, direct, "worker 2")
    log(logged("info", "being written"))
    clock.advance(FLUSH_INTERVAL)
    lines = output.getvalue().decode().splitlines()
    assert len(lines) == 3
    assert "] being written" in lines[0]
    assert "] Received SIGTERM, shutting down." in lines[1]
    assert "standard output" in decodeLine(lines[2])["log_format"]
    assert direct.getvalue() == b""
