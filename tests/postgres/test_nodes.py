"""
Two gateway nodes' stores on one PostgreSQL: the AUTH throttle (and the
dashboard's, which is the same with a scope) counts every node's failures,
and a ban one node makes holds on the other.
"""

import pytest
from twisted.internet.defer import gatherResults

from smtpeter.store import PostgreSQL, SQLiteStore, WebhookStore, openDatabase
from smtpeter.store._webhooks import CLAIM_FOR
from smtpeter.testing import PumpedReactor

from ..conftest import eventually


@pytest.fixture
def nodes(postgresDatabase):
    """Two nodes' stores on one new PostgreSQL database, each with its reactor: [(reactor, store)]."""
    found = []
    for _ in range(2):
        reactor = PumpedReactor()
        store = SQLiteStore(PostgreSQL(postgresDatabase), reactor)
        store.start()
        found.append((reactor, store))
    yield found
    for _, store in found:
        store.stop()


def test_the_auth_throttle_holds_across_nodes(nodes):
    (ra, a), (rb, b) = nodes
    # Both look first: "not banned", kept in memory by each.
    assert ra.wait(a.authBannedUntil("192.0.2.1", 1.0)) is None
    assert rb.wait(b.authBannedUntil("192.0.2.1", 1.0)) is None
    # Six failures at once, three on each node, for a limit of five:
    # counted one after the other, as by one gateway.
    da = [a.settleAuthAttempt("192.0.2.1", 10.0, 600, 5, 60, True) for _ in range(3)]
    db = [b.settleAuthAttempt("192.0.2.1", 10.0, 600, 5, 60, True) for _ in range(3)]
    counts = ra.wait(gatherResults(da)) + rb.wait(gatherResults(db))
    assert sorted(counts, key=lambda n: (n is None, n)) == [1, 2, 3, 4, 5, None]

    # Banned by whichever node counted the fifth, on both: the ban's
    # notification makes the other forget what it kept.
    def banned(reactor, store):
        return lambda: reactor.wait(store.authBannedUntil("192.0.2.1", 11.0)) == 70.0

    for reactor, store in nodes:
        eventually(banned(reactor, store), 2, "the ban on each node")


def test_each_webhook_delivery_is_taken_by_one_node(postgresDatabase, nodes):
    WebhookStore(openDatabase(PostgreSQL(postgresDatabase))).add(
        "https://93.184.216.34/hook", ["click"]
    )
    (ra, a), (rb, b) = nodes
    ra.wait(a.recordClick("0123456789ABCDEF0123", "a@x.test", (), {}, 2.0))
    # Both poll at once: one of them takes it.
    taken = [ra.wait(a.dueWebhooks(10.0, 100)), rb.wait(b.dueWebhooks(10.0, 100))]
    assert sorted(len(t) for t in taken) == [0, 1]
    [delivery] = taken[0] or taken[1]
    # Its node died with it: when the claim runs out, the other sends it.
    assert rb.wait(b.dueWebhooks(10.0 + CLAIM_FOR - 1, 100)) == []
    [again] = rb.wait(b.dueWebhooks(10.0 + CLAIM_FOR, 100))
    assert (again.id, again.uid) == (delivery.id, delivery.uid)
    rb.wait(b.webhookSucceeded(again, 400.0))
    assert ra.wait(a.dueWebhooks(1e12, 100)) == []
