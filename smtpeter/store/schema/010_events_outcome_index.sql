-- A message's events by type: what the status searches ask of each message
-- ("is there a delivery for it?"). With (qid, recipient) only, the planner
-- walked every event of the type for each message, so the queries named
-- their index (INDEXED BY, SQLite's alone); with this one it finds it by
-- itself. It also answers what events_message did (a message's events;
-- a recipient's opens, by type), so that one goes.
CREATE INDEX IF NOT EXISTS events_outcome ON events (qid, type, recipient);
DROP INDEX IF EXISTS events_message;
