"""
The gateway's Prometheus metrics, defined once: each layer counts into
these (an increment is a few memory writes, no I/O), and the node's
C{--metrics} listener (L{smtpeter.process}) serves them.

With several worker processes, each worker writes its values to files in
C{PROMETHEUS_MULTIPROC_DIR} (set by the supervisor before it starts them),
and the supervisor adds them up when scraped: counters and histograms are
summed over every worker that ever ran since the node started (a restarted
worker's counts are kept), gauges over the workers alive (C{livesum}), or
the largest of them where every worker sees the same value (C{livemax}).
The environment variable must be set before C{prometheus_client} is first
imported in a worker, which is why nothing imports this module at the top
of the worker's entry point.

See docs/metrics.md for what each one means and example alerts.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

#: What happens to mail, per login (operator-created, so the label stays bounded).
MESSAGES_ACCEPTED = Counter(
    "smtpeter_messages_accepted",
    "Messages accepted (250 after DATA) and queued, by login.",
    ["login"],
)
RECIPIENTS_DELIVERED = Counter(
    "smtpeter_recipients_delivered",
    "Recipients delivered (the next hop said 250), by login of the message.",
    ["login"],
)
RECIPIENTS_DEFERRED = Counter(
    "smtpeter_recipients_deferred",
    "Delivery attempts that failed temporarily (retried later), by login.",
    ["login"],
)
RECIPIENTS_FAILED = Counter(
    "smtpeter_recipients_failed",
    "Recipients given up on (permanent failure or too long queued), by login.",
    ["login"],
)
RECIPIENTS_BOUNCED = Counter(
    "smtpeter_recipients_bounced",
    "Bounces received for mail sent earlier (--mx intake), by login.",
    ["login"],
)
#: The queue of this node, per state: ready (due now or being delivered),
#: scheduled (waiting for a retry) and held (hold mode).
QUEUE_MESSAGES = Gauge(
    "smtpeter_queue_messages",
    "Messages in this node's queue, by state (ready, scheduled, held).",
    ["state"],
    multiprocess_mode="livesum",
)
SMTP_CONNECTIONS = Gauge(
    "smtpeter_smtp_connections",
    "SMTP connections open (submission and bounce intake).",
    multiprocess_mode="livesum",
)
AUTH_FAILURES = Counter(
    "smtpeter_auth_failures",
    "Failed SMTP AUTH attempts, by reason: refused (wrong password, unknown or disabled"
    " login) or throttled (the address is banned for its failures).",
    ["reason"],
)
#: The same count in every worker that looks, so the largest, not the sum.
WEBHOOK_BACKLOG = Gauge(
    "smtpeter_webhook_backlog",
    "Webhook deliveries waiting to be sent or retried.",
    multiprocess_mode="livemax",
)
QUEUE_CLAIMS = Counter(
    "smtpeter_queue_claims",
    "Messages this node claimed from the shared queue (PostgreSQL).",
)
LEASE_TAKEOVERS = Counter(
    "smtpeter_queue_lease_takeovers",
    "Messages claimed from another worker or node whose lease had run out (PostgreSQL).",
)
TRACKING_UNRECORDED = Counter(
    "smtpeter_tracking_unrecorded",
    "Clicks and opens answered but not recorded: one link's (or open pixel's) beyond"
    " --track-limit a minute, by kind (click, open).",
    ["kind"],
)
DATABASE_COMMIT_SECONDS = Histogram(
    "smtpeter_database_commit_seconds",
    "How long one group commit of the queue takes, round trips to the database included.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


def loginLabel(login: str | None) -> str:
    """A login as the C{login} label: mail of no login (our own notices) is C{""}."""
    return login or ""


__all__ = [
    "AUTH_FAILURES",
    "DATABASE_COMMIT_SECONDS",
    "LEASE_TAKEOVERS",
    "MESSAGES_ACCEPTED",
    "QUEUE_CLAIMS",
    "QUEUE_MESSAGES",
    "RECIPIENTS_BOUNCED",
    "RECIPIENTS_DEFERRED",
    "RECIPIENTS_DELIVERED",
    "RECIPIENTS_FAILED",
    "SMTP_CONNECTIONS",
    "TRACKING_UNRECORDED",
    "WEBHOOK_BACKLOG",
    "loginLabel",
]
