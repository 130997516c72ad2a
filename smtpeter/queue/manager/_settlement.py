"""
Settlement: what happened to a message's recipients does to their states.

A pure function, L{settle}: given the recipients' states and what happened
(an L{Attempt}'s outcomes, or the message's L{Removal} from the queue), it
returns a L{Settlement} naming the new states, the events to record, the
addresses to suppress and the DSNs to send. It does no I/O and reads no
clock; the queue manager carries the result out. Both ends of a recipient
(a delivery attempt, and an administrator's deletion or the end of a hold)
are settled here, so a failure reads the same and its DSN is made the same
whichever way it came.

Each recipient is accounted for separately. A transient failure is retried
after a delay that doubles from C{initial} up to C{maximum}, until the
message has been queued for C{maxQueueTime}; then it expires. Permanent
failures and expiry produce a DSN to the envelope sender (as NOTIFY asks),
and a DELAY notice is sent once after C{delayWarning}.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

from attrs import frozen

from ...config import default
from ...delivery import DELIVERED, PERMANENT, Outcome, dsn
from ...events import ADDRESS_GONE, DEFERRAL, DELIVERY, FAILURE, reasonFor
from ...message import QueuedMessage, Recipient

PENDING = "pending"
DONE = "delivered"
FAILED = "failed"

#: The reason a recipient's failure event gives when the suppression list stopped it.
SUPPRESSED = "suppressed"
#: ... and when the recipient had unsubscribed from the message's login's mail.
UNSUBSCRIBED = "unsubscribed"
#: The reason a recipient's failure event gives when it expired.
EXPIRED = "expired"
#: The reason given when an administrator deleted the message.
DELETED = "deleted"
#: The reason given when held mail was kept for C{holdFor} and dropped.
HOLD_EXPIRED = "hold expired"
#: The reason given when a message's content was deleted from the spool under the gateway.
LOST = "lost"


@frozen
class RetryPolicy:
    initial: timedelta = default("retryInitial")
    maximum: timedelta = default("retryMax")
    maxQueueTime: timedelta = default("maxQueueTime")
    delayWarning: timedelta = default("delayWarning")

    def delayAfter(self, attempts: int) -> float:
        delay = self.initial.total_seconds() * 2 ** max(0, attempts - 1)
        return min(delay, self.maximum.total_seconds())


@frozen
class RecipientState:
    status: str = PENDING
    attempts: int = 0
    nextAttempt: float = 0.0
    last: str = ""
    delayNotified: bool = False
    #: A held message's recipient that was released: a restart does not hold it again.
    released: bool = False

    def toJSON(self) -> dict:
        return {
            "status": self.status,
            "attempts": self.attempts,
            "next": self.nextAttempt,
            "last": self.last,
            "delay_notified": self.delayNotified,
            "released": self.released,
        }

    @classmethod
    def fromJSON(cls, data: dict) -> RecipientState:
        return cls(
            data["status"],
            data["attempts"],
            data["next"],
            data["last"],
            data["delay_notified"],
            data.get("released", False),
        )


@frozen
class Attempt:
    """
    A delivery attempt ended: the outcome of each recipient attempted (by
    index). C{suppressed} are the indexes not attempted because the
    suppression list holds their address; their outcome says so. Those
    also in C{unsubscribed} were held back by their own unsubscribe from
    the message's login (their failure's reason says so).
    """

    outcomes: Mapping[int, Outcome]
    suppressed: frozenset[int] = frozenset()
    unsubscribed: frozenset[int] = frozenset()


@frozen
class Removal:
    """
    The message leaves the queue undelivered (an administrator deleted it,
    or it was held too long): each pending recipient fails, for C{reason}
    (the failure event's C{reason}) explained by C{text}. C{notify}: DSNs
    where NOTIFY asks (not for held mail, which its sender is looking at).
    """

    reason: str
    text: str
    notify: bool = True


@frozen
class RecordedEvent:
    """An event to record about one recipient: its type, address and details."""

    kind: str
    recipient: str
    details: dict


@frozen
class Settlement:
    """
    What L{settle} decided. C{states}: the new state of each recipient
    settled (index -> state). C{events}: to record, in order. C{suppress}:
    addresses the next hop said do not exist. C{dsns}: the DSNs to send,
    each a list of reports of one action (empty when the message has no
    sender to tell, or is a DSN itself).
    """

    states: dict[int, RecipientState]
    events: list[RecordedEvent]
    suppress: list[str]
    dsns: list[list[dsn.RecipientReport]]


def settle(
    message: QueuedMessage,
    states: Sequence[RecipientState],
    happened: Attempt | Removal,
    now: float,
    retry: RetryPolicy = RetryPolicy(),
) -> Settlement:
    """
    Settle what C{happened} to C{message}'s recipients, whose states are
    C{states} (one per recipient). For an L{Attempt}, the recipients in its
    outcomes; for a L{Removal}, every pending recipient. C{now} is when it
    happened, and C{retry} the policy for transient failures.
    """
    # (index, outcome, attempts, the reason the event gives, if settled here)
    settled: list[tuple[int, Outcome, int, str | None]]
    if isinstance(happened, Removal):
        # Not an attempt: the attempt count stays as it was.
        outcome = Outcome(PERMANENT, 550, "5.0.0", happened.text, happened.reason)
        settled = [
            (index, outcome, states[index].attempts, happened.reason)
            for index, state in enumerate(states)
            if state.status == PENDING
        ]
        notify = happened.notify
    else:
        settled = [
            (
                index,
                outcome,
                states[index].attempts + 1,
                (UNSUBSCRIBED if index in happened.unsubscribed else SUPPRESSED)
                if index in happened.suppressed
                else None,
            )
            for index, outcome in happened.outcomes.items()
        ]
        notify = True
    expiry = message.received + retry.maxQueueTime.total_seconds()
    result = Settlement({}, [], [], [])
    reports: dict[str, list[dsn.RecipientReport]] = {}
    for index, outcome, attempts, reason in settled:
        recipient = message.envelope.recipients[index]
        old = states[index]
        details = {
            "attempt": attempts,
            "code": outcome.code,
            "status": outcome.enhanced,
            "state": outcome.state,
            "host": outcome.host,
            "text": outcome.text,
        }
        report = None
        if outcome.status == DELIVERED:
            new = RecipientState(DONE, attempts, 0.0, outcome.describe())
            if recipient.wants("SUCCESS") and not outcome.relayed:
                report = dsn.RecipientReport(recipient, dsn.DELIVERED, outcome)
            kind = DELIVERY
        elif outcome.status == PERMANENT or now >= expiry:
            if reason is not None:
                details["reason"] = reason
            elif outcome.status == PERMANENT:
                details["reason"] = reasonFor(outcome.enhanced, outcome.text)
                if details["reason"] in ADDRESS_GONE:
                    result.suppress.append(recipient.address)
            else:
                outcome = _expired(outcome, attempts)
                details.update(
                    status=outcome.enhanced, text=outcome.text, expired=True, reason=EXPIRED
                )
            new = RecipientState(FAILED, attempts, 0.0, outcome.describe())
            if notify and recipient.wants("FAILURE"):
                report = dsn.RecipientReport(recipient, dsn.FAILED, outcome)
            kind = FAILURE
        else:
            new, report = _deferred(message, recipient, old, outcome, attempts, now, retry)
            details["next_attempt"] = new.nextAttempt
            kind = DEFERRAL
        if report is not None:
            reports.setdefault(report.action, []).append(report)
        result.events.append(RecordedEvent(kind, recipient.address, details))
        result.states[index] = new
    if message.envelope.sender and not message.isDSN:
        result.dsns.extend(reports.values())
    return result


def _expired(outcome: Outcome, attempts: int) -> Outcome:
    """A transient failure past the queue's lifetime: permanent, and says so."""
    return Outcome(
        PERMANENT,
        outcome.code,
        "4.4.7" if outcome.enhanced[:1] != "5" else outcome.enhanced,
        f"gave up after {attempts} attempts; last: {outcome.text}",
        outcome.state,
        outcome.host,
    )


def _deferred(
    message: QueuedMessage,
    recipient: Recipient,
    old: RecipientState,
    outcome: Outcome,
    attempts: int,
    now: float,
    retry: RetryPolicy,
) -> tuple[RecipientState, dsn.RecipientReport | None]:
    """
    A transient failure: the next attempt, and a DELAY notice once, if
    asked for. Neither the attempt nor the notice's retrying-until is later
    than the message's expiry, nor than its sender's C{maxdelivertime}:
    it fails then, not at the retry after.
    """
    expiry = message.received + retry.maxQueueTime.total_seconds()
    if message.options.maxDeliverTime is not None:
        expiry = min(expiry, message.options.maxDeliverTime)
    nextAttempt = min(now + retry.delayAfter(attempts), expiry)
    warn = (
        not old.delayNotified
        and recipient.wants("DELAY")
        and now - message.received >= retry.delayWarning.total_seconds()
    )
    new = RecipientState(
        PENDING, attempts, nextAttempt, outcome.describe(), old.delayNotified or warn
    )
    report = dsn.RecipientReport(recipient, dsn.DELAYED, outcome, expiry) if warn else None
    return new, report
