-- Nothing on SQLite: one machine is one node, and the administration reads
-- its workers and queue from its spools (014_node_heartbeat.postgres.sql).
SELECT 1;
