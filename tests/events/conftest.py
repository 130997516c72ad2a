"""Helpers shared by these tests."""

from __future__ import annotations

from twisted.python.failure import Failure


class Hook:
    id = 1
    secret = "whsec_test"

    def __init__(self, url: str) -> None:
        self.url = url


def _ensure(coroutine):
    from twisted.internet.defer import ensureDeferred

    return ensureDeferred(coroutine)


def _outcome(d):
    results = []
    d.addBoth(results.append)
    assert results, "the Deferred has not fired"
    return results[0]


def _result(d):
    outcome = _outcome(d)
    assert not isinstance(outcome, Failure), outcome.getTraceback()
    return outcome
