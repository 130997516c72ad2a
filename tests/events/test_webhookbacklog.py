"""The webhook backlog gauge: what is due and what is being sent, at each look."""

from __future__ import annotations

from types import SimpleNamespace

from prometheus_client import REGISTRY
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

from smtpeter.events import WebhookDispatcher


class Due:
    """Deliveries due, as the store gives them (those being sent left out)."""

    def __init__(self, ids: list[int]) -> None:
        self.ids = ids

    def dueWebhooks(self, now, limit, skip):
        return succeed([SimpleNamespace(id=i) for i in self.ids if i not in skip][:limit])


def test_the_backlog_is_what_is_due_and_what_is_being_sent():
    events = Due([1, 2, 3])
    dispatcher = WebhookDispatcher(events, Clock())
    sending: list[Deferred] = []
    dispatcher._send = lambda delivery: sending.append(Deferred()) or sending[-1]
    dispatcher.poll()
    assert REGISTRY.get_sample_value("smtpeter_webhook_backlog") == 3
    assert len(sending) == 3
    events.ids = [1, 2, 3, 4]  # one more due; three being sent
    dispatcher.poll()
    assert REGISTRY.get_sample_value("smtpeter_webhook_backlog") == 4
    for d in sending:
        d.callback(None)
    events.ids = []
    dispatcher.poll()
    assert REGISTRY.get_sample_value("smtpeter_webhook_backlog") == 0
