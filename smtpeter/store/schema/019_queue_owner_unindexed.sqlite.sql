-- Nothing on SQLite: its queue is each worker's spool
-- (019_queue_owner_unindexed.postgres.sql).
SELECT 1;
