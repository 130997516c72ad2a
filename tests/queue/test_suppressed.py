"""Which recipients the suppression list holds back, for which login, and why."""

from __future__ import annotations

from twisted.internet.defer import ensureDeferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from smtpeter.queue import Envelope, Options, QueuedMessage, Recipient
from smtpeter.queue.manager import (
    SUPPRESSED,
    UNSUBSCRIBED,
    Attempt,
    RecipientState,
    settle,
    suppressedOutcomes,
)
from smtpeter.store import MemoryStore

TO = ("reader@x.test", "bounced@x.test", "other@x.test")


def message(login: str | None, **extra: str) -> QueuedMessage:
    envelope = Envelope("news@shop.test", tuple(Recipient(a) for a in TO))
    return QueuedMessage("Q1", envelope, Options(login=login, extra=extra), 100.0, b"")


class SuppressedOutcomesTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.store = MemoryStore(Clock())
        self.store.suppress("reader@x.test", "unsubscribed", 10.0, None, "Q0", "app")
        self.store.suppress("bounced@x.test", "hard bounce", 10.0, None, None)

    def outcomes(self, queued: QueuedMessage) -> dict:
        return self.successResultOf(
            ensureDeferred(suppressedOutcomes(self.store, queued, [0, 1, 2], 50.0))
        )

    def test_an_unsubscribe_holds_back_only_its_logins_mail(self) -> None:
        found = self.outcomes(message("app"))
        self.assertEqual(sorted(found), [0, 1])
        self.assertEqual(
            (found[0].state, found[0].code, found[0].enhanced), (UNSUBSCRIBED, 550, "5.7.1")
        )
        self.assertIn("unsubscribed from login app", found[0].text)
        self.assertEqual(found[1].state, SUPPRESSED)
        # Another login's mail, or mail without a login, still goes to the reader.
        self.assertEqual(sorted(self.outcomes(message("shop"))), [1])
        self.assertEqual(sorted(self.outcomes(message(None))), [1])

    def test_the_header_overrides_it(self) -> None:
        self.assertEqual(self.outcomes(message("app", ignoresuppression="true")), {})

    def test_the_failure_says_unsubscribed(self) -> None:
        queued = message("app")
        found = self.outcomes(queued)
        unsubscribed = frozenset(i for i, o in found.items() if o.state == UNSUBSCRIBED)
        settlement = settle(
            queued,
            [RecipientState() for _ in TO],
            Attempt(found, frozenset(found), unsubscribed),
            50.0,
        )
        reasons = {e.recipient: (e.kind, e.details["reason"]) for e in settlement.events}
        self.assertEqual(
            reasons,
            {"reader@x.test": ("failure", UNSUBSCRIBED), "bounced@x.test": ("failure", SUPPRESSED)},
        )
        self.assertEqual(settlement.suppress, [])  # nothing new to suppress
