-- Nothing on SQLite: one machine's events stay in one table, purged by
-- rows. PostgreSQL keeps them in tables per day (013_events_days.postgres.sql).
SELECT 1;
