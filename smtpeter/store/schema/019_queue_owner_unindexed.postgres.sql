-- The shared queue's rows are found by their queue ids, never by owner:
-- an index on owner made PostgreSQL's generic plans for "this qid, if it
-- is still mine" walk every entry this worker ever owned, dead rows
-- included (until autovacuum came by), and kept claims from being HOT
-- updates. Starting a node (releasing its old claims) and counting claims
-- per node read the whole table instead, which is small.
DROP INDEX IF EXISTS queue_messages_owner;
