-- A worker's spool (smtpeter/queue/_database.py), as the first versioned
-- release found it; a spool from before versions has exactly this.
-- 70368744177664 is QUEUED (1 << 46): the done of a message still queued.

-- Each message: when it finished (ms) or QUEUED, its envelope and options
-- (JSON), and its content (NULL: in large/<qid>).
CREATE TABLE IF NOT EXISTS message (
    qid TEXT PRIMARY KEY,
    done INTEGER NOT NULL DEFAULT 70368744177664,
    meta TEXT NOT NULL,
    content BLOB
);
CREATE INDEX IF NOT EXISTS queued ON message (qid) WHERE done = 70368744177664;
-- Each recipient's progress.
CREATE TABLE IF NOT EXISTS state (
    qid TEXT NOT NULL,
    rcpt INTEGER NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (qid, rcpt)
) WITHOUT ROWID;
