-- The queue shared by every node, in PostgreSQL (smtpeter/queue/_shared.py),
-- the nodes' names, and the cluster's duties.
-- Hot rows stay small: a message's body has a table of its own, written
-- once and deleted once, so that claims and lease renewals rewrite only
-- the small row. A finished message leaves all three tables at once.

-- Each queued message: its envelope and options (JSON), when it is next due
-- (epoch seconds; NULL while it is held), and who works on it: the owner
-- (node/worker), until when its lease holds, and the claim counter that
-- fences every outcome.
CREATE TABLE IF NOT EXISTS queue_messages (
    qid text PRIMARY KEY,
    meta text NOT NULL,
    node text NOT NULL,
    received double precision NOT NULL,
    due double precision,
    owner text,
    lease_until double precision,
    claim bigint NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS queue_messages_due ON queue_messages (due)
    WHERE due IS NOT NULL;
CREATE INDEX IF NOT EXISTS queue_messages_owner ON queue_messages (owner)
    WHERE owner IS NOT NULL;
CREATE INDEX IF NOT EXISTS queue_messages_held ON queue_messages (received)
    WHERE due IS NULL;

CREATE TABLE IF NOT EXISTS queue_bodies (
    qid text PRIMARY KEY REFERENCES queue_messages ON DELETE CASCADE,
    content bytea NOT NULL
);

-- Finished messages' content, kept --keep-sent days for the dashboard.
CREATE TABLE IF NOT EXISTS queue_sent (
    qid text PRIMARY KEY,
    finished double precision NOT NULL,
    content bytea NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_sent_finished ON queue_sent (finished);

-- Each recipient's progress (RecipientState as JSON).
CREATE TABLE IF NOT EXISTS queue_recipients (
    qid text NOT NULL REFERENCES queue_messages ON DELETE CASCADE,
    rcpt integer NOT NULL,
    state jsonb NOT NULL,
    PRIMARY KEY (qid, rcpt)
);

-- The running nodes' names (each held by an advisory lock while it runs).
CREATE TABLE IF NOT EXISTS nodes (
    name text PRIMARY KEY,
    host text NOT NULL,
    pid integer NOT NULL,
    started timestamptz NOT NULL
);

-- Work done by one node of the cluster at a time (purges, webhook dispatch,
-- expiry of held mail): held by a lease its owner renews.
CREATE TABLE IF NOT EXISTS cluster_duties (
    name text PRIMARY KEY,
    owner text NOT NULL,
    lease_until double precision NOT NULL
);
