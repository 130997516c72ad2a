-- Nothing on SQLite: one machine keeps a spool per worker in its data
-- directory (smtpeter/queue/schema/). PostgreSQL holds the queue that
-- every node shares (011_shared_queue.postgres.sql).
SELECT 1;
