"""
Nothing lost: clients send in a loop, the gateway is killed with SIGKILL at
a random moment, restarted on the same data directory, and every message
that got a 250 arrives. And an upgrade delivers the queue an earlier
version left.
"""

from __future__ import annotations

import random
import signal
import time

from smtpeter.queue import DiskSpool, Envelope, Options, QueuedMessage, Recipient
from smtpeter.queue.manager import RecipientState

from ..conftest import Gateway, eventually
from .conftest import arrivals, connect, load, subject


def test_kill_minus_nine_loses_no_accepted_message(makeGateway, sink):
    gateway = makeGateway(sink)
    password = gateway.createLogin("loader")
    with load(gateway, password) as accepted:
        eventually(lambda: len(accepted) > 10, what="the load getting going")
        time.sleep(random.uniform(0.0, 1.0))  # the kill lands anywhere in a delivery
        gateway.kill()
        killedAt = len(accepted)
        time.sleep(0.3)
    assert killedAt > 10, "the load did not get going before the kill"
    gateway.start()
    arrivals(sink, set(accepted))


def test_deferred_message_survives_a_clean_restart(makeGateway, sink):
    sink.policy = lambda stage, arg: "451 4.3.0 not now" if stage == "RCPT" else None
    gateway = makeGateway(sink, "--retry-initial", "2s")
    password = gateway.createLogin("app")
    client = connect(gateway, implicit=False)
    client.login("app", password)
    client.sendmail("a@example.com", ["later@example.org"], b"Subject: survive\r\n\r\nx\r\n")
    client.quit()
    gateway.waitForLog("deferral <later@example.org> attempt=1")
    gateway.stop()
    # twistd shuts down cleanly, then exits by the signal it was sent.
    assert gateway.process.returncode == -signal.SIGTERM
    assert "Server Shut Down" in gateway.logText()
    sink.policy = lambda stage, arg: None
    gateway.start()
    [received] = sink.wait(1, timeout=30)
    assert subject(received.data) == "survive"
    log = gateway.waitForLog(
        "1 queued message(s) resumed", "delivery <later@example.org> attempt=2"
    )
    assert "attempt=1 code=250" not in log


def test_an_upgrade_delivers_the_queue_of_files_an_earlier_version_left(tmp_path, sink):
    """Both workers' queues as files (the spool before SQLite): imported, delivered once."""
    data = tmp_path / "data"
    for qid, root in (("018B0000000011111111", "spool"), ("018B0000000022222222", "spool-2")):
        files = DiskSpool(data / root)
        files.prepare()
        envelope = Envelope("a@example.com", (Recipient(f"{root}@example.org"),))
        content = f"Subject: {root}\r\n\r\nqueued before the upgrade\r\n".encode()
        files.store(QueuedMessage(qid, envelope, Options(), 1700000000.0, content))
        deferred = RecipientState(attempts=1, last="451 4.3.0 not now")
        files.recordStates(qid, {0: deferred.toJSON()})
        files.close()
    gateway = Gateway(data, sink.port).start()
    try:
        received = sink.wait(2, timeout=30)
        assert sorted(subject(m.data) for m in received) == ["spool", "spool-2"]
        log = gateway.waitForLog("attempt=2 code=250")
        assert log.count("imported 1 queued message(s)") == 2, log
        assert not (data / "spool" / "queue").exists()
        assert not (data / "spool-2" / "queue").exists()
    finally:
        gateway.stop()
    time.sleep(0.5)
    assert len(sink.messages) == 2
