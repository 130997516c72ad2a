-- (PostgreSQL's twin of the SQLite step.)
-- The REST send API (POST /v1/send, smtpeter/web/_send.py). A token whose scope
-- is 'send' sends as one login (NULL for read and admin tokens).
ALTER TABLE api_tokens ADD COLUMN login TEXT;
-- Idempotency keys (smtpeter/store/_idempotency.py): the first answer to a
-- send with a key, per token, kept 24 hours; status NULL while it is worked on.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    token TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    created double precision NOT NULL,
    status INTEGER,
    body TEXT,
    PRIMARY KEY (token, idem_key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_created ON idempotency_keys (created);
