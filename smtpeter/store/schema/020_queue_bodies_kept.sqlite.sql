-- Nothing on SQLite: its queue is each worker's spool
-- (020_queue_bodies_kept.postgres.sql).
SELECT 1;
