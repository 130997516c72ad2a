"""A recipient's status from its events, as C{GET /v1/messages/{id}} shows it."""

from __future__ import annotations

from typing import NamedTuple

from smtpeter.store import recipientStatus

A, B = "a@example.org", "b@example.org"


class Stored(NamedTuple):
    """What recipientStatus reads of a stored event."""

    type: str
    time: float
    recipient: str
    details: dict


def event(number: int, type: str, recipient: str, **details) -> Stored:
    return Stored(type, 1_800_000_000.0 + number, recipient, details)


def test_a_failure_gives_its_reason_while_it_is_the_latest():
    status = recipientStatus(
        [
            event(1, "attempt", A),
            event(2, "attempt", B),
            event(
                3, "failure", A, code=550, text="unsubscribed from login app", reason="unsubscribed"
            ),
            event(4, "failure", B, code=451, text="try later", permanent=False, attempt=1),
            event(5, "failure", B, code=451, text="not before", reason="expired", attempt=2),
        ]
    )
    assert status[A]["status"] == "failed" and status[A]["reason"] == "unsubscribed"
    assert status[A]["last_error"] == "550 unsubscribed from login app"
    assert status[B]["status"] == "failed" and status[B]["reason"] == "expired"
    later = recipientStatus(
        [
            event(1, "failure", A, code=550, text="x", reason="suppressed"),
            event(2, "failure", A, code=451, text="try later", permanent=False),
        ]
    )
    assert later[A]["status"] == "deferred" and "reason" not in later[A]
