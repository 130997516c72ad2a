-- A message's body stays where it was written, once: a finished message's
-- row in queue_bodies is marked finished (epoch seconds; NULL while the
-- message is queued) and kept there --keep-sent days for the dashboard,
-- instead of a copy into queue_sent (which read the body back, and wrote
-- it, compressed again, a second time). The purge finds the finished
-- bodies by their index.
-- The queue's tables, locked at once and in the order the nodes' statements
-- take them, so that a node of the previous release still running (a
-- rolling upgrade) waits for the step rather than deadlocking with it.
LOCK TABLE queue_messages, queue_bodies, queue_recipients, queue_sent
    IN ACCESS EXCLUSIVE MODE;

ALTER TABLE queue_bodies ADD COLUMN finished double precision;
CREATE INDEX queue_bodies_finished ON queue_bodies (finished)
    WHERE finished IS NOT NULL;

-- A finished message's rows leave (or are marked) in the statement that
-- deletes it (smtpeter/queue/_sharedwrites.py), by their keys: the foreign
-- keys' cascades cost a DELETE per body and per recipient, and a SELECT
-- ... FOR KEY SHARE per new body, and would now delete the kept body.
ALTER TABLE queue_bodies DROP CONSTRAINT queue_bodies_qid_fkey;
ALTER TABLE queue_recipients DROP CONSTRAINT queue_recipients_qid_fkey;

-- The content kept so far moves into queue_bodies, and stays readable
-- (were a queue id both queued and kept, its queued body would stay).
INSERT INTO queue_bodies (qid, content, finished)
    SELECT qid, content, finished FROM queue_sent
    ON CONFLICT (qid) DO NOTHING;
DROP TABLE queue_sent;

-- For the nodes of the previous release, which run on until each is
-- restarted with this one (a rolling upgrade): they keep a finished
-- message's content by inserting it into queue_sent and expect the
-- cascades to delete its recipients. Here such an insert marks the body
-- finished and deletes the recipients, and nothing is written in
-- queue_sent (which stays empty: the purge and the readers of this release
-- do not read it). A later step drops it. (A node of the previous release
-- with --keep-sent 0 leaves its finished messages' bodies and recipients
-- behind: docs/cluster.md, Upgrades.)
CREATE TABLE queue_sent (
    qid text PRIMARY KEY,
    finished double precision NOT NULL,
    content bytea NOT NULL
);
CREATE FUNCTION queue_sent_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE queue_bodies SET finished = NEW.finished WHERE qid = NEW.qid;
    DELETE FROM queue_recipients WHERE qid = NEW.qid;
    RETURN NULL;
END
$$;
CREATE TRIGGER queue_sent_kept BEFORE INSERT ON queue_sent
    FOR EACH ROW EXECUTE FUNCTION queue_sent_kept();
