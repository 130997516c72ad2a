"""The queue manager: per-recipient accounting, retries, expiry, DSNs, resume."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes

from twisted.internet.defer import ensureDeferred, succeed
from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher
from zope.interface import implementer
from zope.interface.verify import verifyObject

from smtpeter.delivery import IDeliveryAgent, Outcome
from smtpeter.events import MemoryEventSink
from smtpeter.queue import Envelope, IQueue, MemorySpool, Options, Recipient
from smtpeter.queue.manager import QueueManager, RetryPolicy
from smtpeter.testing import result

OK = Outcome("delivered", 250, "2.0.0", "ok", "end of DATA", "mx.test")
LATER = Outcome("transient", 451, "4.3.0", "later", "RCPT", "mx.test")
GONE = Outcome("permanent", 550, "5.1.1", "no such user", "RCPT", "mx.test")


@implementer(IDeliveryAgent)
class ScriptedAgent:
    """Answers each recipient with the next outcome scripted for its address."""

    def __init__(self, script: dict[str, list[Outcome]]) -> None:
        self.script = script
        self.calls: list[tuple[str, list[str], bytes]] = []

    def deliver(self, message, content, recipients, beforeDot=None):
        self.calls.append((message.qid, [r.address for r in recipients], content))
        return succeed([self.script[r.address].pop(0) for r in recipients])

    def stop(self):
        return succeed(None)


def manager(script, spool=None, **policy):
    clock = Clock()
    agent = ScriptedAgent(script)
    events = MemoryEventSink()
    retry = RetryPolicy(
        timedelta(seconds=60),
        timedelta(seconds=600),
        timedelta(hours=1),
        timedelta(minutes=30),
        **policy,
    )
    queue = QueueManager(spool or MemorySpool(), agent, clock, "gw.test", events, retry)
    return queue, agent, clock, events


def enqueue(queue, recipients, sender="s@example.com", **rcpt):
    envelope = Envelope(sender, tuple(Recipient(r, **rcpt) for r in recipients))
    return result(queue.enqueue(envelope, Options(tags=("t",)), b"Subject: x\r\n\r\nbody\r\n"))


def dsns(agent):
    return [c for c in agent.calls if c[1] == ["s@example.com"]]


def test_interfaces():
    queue, agent, _, _ = manager({})
    assert verifyObject(IQueue, queue)
    assert verifyObject(IDeliveryAgent, agent)


def test_delivered_at_once_and_removed():
    queue, agent, clock, events = manager({"a@x.test": [OK]})
    qid = enqueue(queue, ["a@x.test"])
    clock.advance(0)
    assert agent.calls == [(qid, ["a@x.test"], b"Subject: x\r\n\r\nbody\r\n")]
    assert queue.entries == {} and queue.spool.messages == {}
    assert [e.type for e in events.events] == ["attempt", "delivery"]
    assert events.events[1].tags == ("t",)


def test_retries_double_and_only_pending_recipients_are_retried():
    queue, agent, clock, events = manager({"a@x.test": [LATER, LATER, OK], "b@x.test": [OK]})
    enqueue(queue, ["a@x.test", "b@x.test"])
    clock.advance(0)
    assert agent.calls[-1][1] == ["a@x.test", "b@x.test"]
    clock.advance(59)
    assert len(agent.calls) == 1
    clock.advance(1)
    assert agent.calls[-1][1] == ["a@x.test"]
    clock.advance(119)
    assert len(agent.calls) == 2  # the second delay is twice the first
    clock.advance(1)
    assert len(agent.calls) == 3 and queue.entries == {}
    assert [e.type for e in events.events if e.recipient == "a@x.test"] == [
        "attempt",
        "deferral",
        "deferral",
        "delivery",
    ]
    assert [e.details["attempt"] for e in events.events if e.type != "attempt"] == [1, 1, 2, 3]


def test_permanent_failure_sends_one_dsn():
    queue, agent, clock, _ = manager(
        {"a@x.test": [GONE], "b@x.test": [GONE], "s@example.com": [OK]}
    )
    qid = enqueue(queue, ["a@x.test", "b@x.test"])
    clock.advance(0)
    [(_, rcpts, content)] = dsns(agent)
    report = message_from_bytes(content)
    assert report["To"] == "<s@example.com>" and report.get_content_type() == "multipart/report"
    assert content.count(b"Action: failed") == 2
    assert f"queue id {qid}".encode() in content
    assert queue.entries == {}


def test_no_dsn_when_notify_never_or_null_sender():
    queue, agent, clock, _ = manager({"a@x.test": [GONE], "b@x.test": [GONE]})
    enqueue(queue, ["a@x.test"], notify=("NEVER",))
    enqueue(queue, ["b@x.test"], sender="")
    clock.advance(0)
    assert dsns(agent) == [] and len(agent.calls) == 2


def test_success_dsn_only_when_asked_and_not_relayed():
    relayed = Outcome("delivered", 250, "2.0.0", "ok", "end of DATA", "mx.test", relayed=True)
    queue, agent, clock, _ = manager(
        {"a@x.test": [OK], "b@x.test": [relayed], "s@example.com": [OK]}
    )
    enqueue(queue, ["a@x.test"], notify=("SUCCESS",))
    enqueue(queue, ["b@x.test"], notify=("SUCCESS",))
    clock.advance(0)
    [(_, _, content)] = dsns(agent)
    assert b"Action: delivered" in content and b"a@x.test" in content


def test_delay_notice_once_then_expiry():
    queue, agent, clock, events = manager({"a@x.test": [LATER] * 20, "s@example.com": [OK, OK]})
    enqueue(queue, ["a@x.test"])
    for _ in range(200):
        clock.advance(60)
    reports = [c[2] for c in dsns(agent)]
    assert len(reports) == 2
    assert b"Action: delayed" in reports[0] and b"Will-Retry-Until:" in reports[0]
    assert b"Action: failed" in reports[1] and b"Status: 4.4.7" in reports[1]
    assert queue.entries == {}
    [failure] = [e for e in events.events if e.type == "failure"]
    assert failure.recipient == "a@x.test" and failure.details["expired"] is True


def test_resume_after_restart_skips_delivered_recipients():
    spool = MemorySpool()
    queue, agent, clock, _ = manager({"a@x.test": [OK], "b@x.test": [LATER]}, spool=spool)
    qid = enqueue(queue, ["a@x.test", "b@x.test"])
    clock.advance(0)
    queue.stop()  # the process dies; the spool remains
    again, agent2, clock2, _ = manager({"b@x.test": [OK]}, spool=spool)
    assert result(again.resume()) == 1
    clock2.advance(0)
    assert agent2.calls == []  # not due yet: the saved retry time is kept
    clock2.advance(10_000_000_000)
    assert [c[:2] for c in agent2.calls] == [(qid, ["b@x.test"])]
    assert spool.messages == {}


def test_storage_failure_refuses_with_451():
    spool = MemorySpool()
    spool.failStore = True
    queue, _, _, _ = manager({}, spool=spool)
    d = queue.enqueue(Envelope("s@x.test", (Recipient("a@x.test"),)), Options(), b"x\r\n")
    failures = []
    d.addErrback(failures.append)
    assert failures[0].value.reply.code == 451
    assert queue.entries == {}


class HeldAgent(ScriptedAgent):
    """Holds every delivery until the test releases it."""

    def __init__(self, script) -> None:
        super().__init__(script)
        self.held: list = []

    def deliver(self, message, content, recipients, beforeDot=None):
        from twisted.internet.defer import Deferred

        self.calls.append((message.qid, [r.address for r in recipients], content))
        d = Deferred()
        self.held.append((d, [self.script[r.address].pop(0) for r in recipients]))
        return d


def test_stop_waits_for_deliveries_in_flight_and_starts_no_more():
    queue, _, clock, events = manager({})
    agent = queue.agent = HeldAgent({"a@x.test": [OK], "b@x.test": [LATER]})
    qid = enqueue(queue, ["a@x.test"])
    clock.advance(0)
    assert len(agent.held) == 1
    enqueue(queue, ["b@x.test"])  # queued, not yet started
    stopped = queue.stop()
    clock.advance(0)
    assert not stopped.called and len(agent.held) == 1
    d, outcomes = agent.held.pop()
    d.callback(outcomes)
    assert result(stopped) == 0
    assert qid not in queue.spool.messages  # its outcome was recorded before the stop ended
    assert [e.type for e in events.events].count("delivery") == 1
    assert len(agent.calls) == 1  # the second message waits for the next start


def test_stop_gives_up_waiting_after_the_grace_period():
    queue, _, clock, _ = manager({})
    queue.agent = HeldAgent({"a@x.test": [OK]})
    qid = enqueue(queue, ["a@x.test"])
    clock.advance(0)
    stopped = queue.stop(grace=timedelta(seconds=5))
    clock.advance(4)
    assert not stopped.called
    clock.advance(1)
    assert result(stopped) == 1
    assert qid in queue.spool.messages  # made again at the next start


def heldManager(script, **options):
    queue, _, clock, events = manager({})
    queue.agent = HeldAgent(script)
    for name, value in options.items():
        setattr(queue, name, value)
    return queue, queue.agent, clock, events


def test_due_messages_wait_in_line_for_a_slot_oldest_first():
    script = {f"r{i}@x.test": [OK] for i in range(5)}
    queue, agent, clock, _ = heldManager(script, concurrency=2)
    qids = [enqueue(queue, [f"r{i}@x.test"]) for i in range(5)]
    clock.advance(0)
    assert [c[0] for c in agent.calls] == qids[:2]
    d, outcomes = agent.held.pop(0)
    d.callback(outcomes)
    clock.advance(0)
    assert [c[0] for c in agent.calls] == qids[:3]
    for _ in range(4):
        d, outcomes = agent.held.pop(0)
        d.callback(outcomes)
        clock.advance(0)
    assert [c[0] for c in agent.calls] == qids and queue.entries == {}


def test_a_message_waiting_in_line_can_be_deleted_and_is_never_sent():
    script = {"a@x.test": [OK], "b@x.test": [OK], "s@example.com": [OK]}
    queue, agent, clock, events = heldManager(script, concurrency=1)
    enqueue(queue, ["a@x.test"])
    waiting = enqueue(queue, ["b@x.test"])
    clock.advance(0)
    assert result(ensureDeferred(queue.delete(waiting))) is True
    while agent.held:
        d, outcomes = agent.held.pop()
        d.callback(outcomes)
        clock.advance(0)
    # The first message, then the DSN about the deleted one; never the deleted one.
    assert [c[1] for c in agent.calls] == [["a@x.test"], ["s@example.com"]]
    assert waiting not in queue.spool.messages and queue.entries == {}
    [failure] = [e for e in events.events if e.type == "failure"]
    assert failure.recipient == "b@x.test" and failure.details["reason"] == "deleted"


def test_retry_now_does_not_put_a_waiting_message_in_line_twice():
    queue, agent, clock, _ = heldManager({"a@x.test": [OK], "b@x.test": [OK]}, concurrency=1)
    enqueue(queue, ["a@x.test"])
    waiting = enqueue(queue, ["b@x.test"])
    assert queue.retryNow(waiting) and queue.retryNow(waiting)
    clock.advance(0)
    for _ in range(2):
        d, outcomes = agent.held.pop()
        d.callback(outcomes)
        clock.advance(0)
    assert [c[1] for c in agent.calls] == [["a@x.test"], ["b@x.test"]] and agent.held == []


def test_retry_now_leaves_held_mail_held_and_still_dropped_after_hold_for():
    queue, agent, clock, events = manager({"a@x.test": [OK]})
    envelope = Envelope("s@example.com", (Recipient("a@x.test"),))
    qid = result(queue.enqueue(envelope, Options(hold=True), b"Subject: x\r\n\r\nbody\r\n"))
    clock.advance(timedelta(days=1).total_seconds())
    assert queue.retryNow(qid) is True
    clock.advance(0)
    assert agent.calls == [] and queue.entries[qid].held  # release delivers held mail
    clock.advance(timedelta(days=6).total_seconds())
    assert qid not in queue.entries and qid not in queue.spool.messages
    assert agent.calls == []  # no DSN for held mail
    assert [(e.type, e.details.get("reason")) for e in events.events[1:]] == [
        ("failure", "hold expired")
    ]


def test_a_failed_queue_run_is_logged_and_tried_again_a_minute_later():
    class Broken(ScriptedAgent):
        def deliver(self, message, content, recipients, beforeDot=None):
            if not self.calls:
                self.calls.append(None)
                raise RuntimeError("a bug in the agent")
            return super().deliver(message, content, recipients)

    queue, _, clock, events = manager({})
    queue.agent = Broken({"a@x.test": [OK]})
    observed = []
    globalLogPublisher.addObserver(observed.append)
    try:
        qid = enqueue(queue, ["a@x.test"])
        clock.advance(0)
    finally:
        globalLogPublisher.removeObserver(observed.append)
    assert [e["log_format"] for e in observed if e.get("log_failure")] == [
        "queue run of {qid} failed"
    ]
    assert qid in queue.entries and not queue.entries[qid].running
    clock.advance(59)
    assert queue.agent.calls == [None]
    clock.advance(1)
    assert queue.agent.calls[1][:2] == (qid, ["a@x.test"]) and queue.entries == {}


def test_content_beyond_the_memory_budget_is_read_back_from_the_spool():
    queue, agent, clock, _ = heldManager({"a@x.test": [OK], "b@x.test": [OK]})
    queue.contentInMemory = 20  # the first 20-byte message uses it all
    first, second = enqueue(queue, ["a@x.test"]), enqueue(queue, ["b@x.test"])
    assert queue.entries[first].content is not None and queue.entries[second].content is None
    clock.advance(0)
    assert [c[2] for c in agent.calls] == [b"Subject: x\r\n\r\nbody\r\n"] * 2
    assert queue._contentBytes == 0


def test_nothing_is_attempted_after_the_maxdelivertime():
    queue, agent, clock, events = manager({"a@x.test": [LATER], "b@x.test": [LATER]})
    clock.advance(1000)
    options = Options(maxDeliverTime=1030.0)
    envelope = Envelope("", (Recipient("a@x.test"), Recipient("b@x.test")))
    result(queue.enqueue(envelope, options, b"Subject: x\r\n\r\nbody\r\n"))
    clock.advance(0)
    assert len(agent.calls) == 1  # before it: attempted (and deferred)
    # The retry would come after it (in 60 s): it fails at its maxdelivertime.
    clock.advance(29)
    assert queue.entries != {}
    clock.advance(1)
    assert len(agent.calls) == 1 and queue.entries == {}
    failures = [e for e in events.events if e.type == "failure"]
    assert [(e.recipient, e.details["reason"]) for e in failures] == [
        ("a@x.test", "expired"),
        ("b@x.test", "expired"),
    ]
    assert "maxdelivertime" in failures[0].details["text"]


def test_a_message_past_its_maxdelivertime_is_never_attempted():
    queue, agent, clock, events = manager({"a@x.test": [OK]})
    clock.advance(1000)
    envelope = Envelope("", (Recipient("a@x.test"),))
    result(queue.enqueue(envelope, Options(maxDeliverTime=999.0), b"Subject: x\r\n\r\nbody\r\n"))
    clock.advance(0)
    assert agent.calls == []
    assert [e.type for e in events.events] == ["attempt", "failure"]


class DeletingSpool(MemorySpool):
    """A spool whose bodies an operator deleted (as C{rm spool/large/QID} does)."""

    def readContent(self, qid):
        raise FileNotFoundError(2, "No such file or directory", f"spool/large/{qid}")


def test_a_message_whose_content_was_deleted_fails_once_with_a_dsn():
    queue, agent, clock, events = manager(
        {"a@x.test": [LATER], "s@example.com": [OK]}, DeletingSpool()
    )
    qid = enqueue(queue, ["a@x.test"])
    clock.advance(0)  # attempted from memory, deferred
    clock.advance(60)  # the retry reads the spool: the body is gone
    assert [c[0] for c in agent.calls] == [qid, dsns(agent)[0][0]]  # not attempted again
    assert qid not in queue.entries and qid not in queue.spool.messages
    [failure] = [e for e in events.events if e.type == "failure"]
    assert failure.details["reason"] == "lost"
    assert f"spool/large/{qid}" in failure.details["text"]
    notice = message_from_bytes(dsns(agent)[0][2])
    assert "deleted from the spool" in notice.as_string()
    clock.advance(3600)
    assert len(agent.calls) == 2  # and nothing more: no retry every minute


class UnreadableSpool(MemorySpool):
    """A spool whose bodies the gateway may not read (an operator's chown), until fixed."""

    fixed = False

    def readContent(self, qid):
        if self.fixed:
            return super().readContent(qid)
        raise PermissionError(13, "Permission denied", f"spool/large/{qid}")


def test_a_body_that_cannot_be_read_now_is_one_line_and_tried_again():
    queue, agent, clock, events = manager({"a@x.test": [LATER, OK]}, UnreadableSpool())
    observed = []
    globalLogPublisher.addObserver(observed.append)
    try:
        qid = enqueue(queue, ["a@x.test"])
        clock.advance(0)  # from memory: deferred
        clock.advance(60)  # from the spool: unreadable
    finally:
        globalLogPublisher.removeObserver(observed.append)
    [line] = [e for e in observed if e["log_level"].name == "error"]
    assert "log_failure" not in line  # no traceback
    assert (line["qid"], line["why"], line["path"]) == (
        qid,
        "Permission denied",
        f"spool/large/{qid}",
    )
    assert len(agent.calls) == 1 and qid in queue.entries
    queue.spool.fixed = True
    clock.advance(60)
    assert len(agent.calls) == 2 and queue.entries == {}
    assert [e.type for e in events.events] == ["attempt", "deferral", "delivery"]
