-- Each node's heartbeat (smtpeter/process/_heartbeat.py writes it every few
-- seconds): when it was last seen, how many worker processes it runs, and
-- its --lease (in seconds), by which a node not seen for 3 leases is shown
-- as down (GET /v1/nodes, smtpeter nodes, the dashboard's Nodes page).
ALTER TABLE nodes ADD COLUMN IF NOT EXISTS seen timestamptz;
ALTER TABLE nodes ADD COLUMN IF NOT EXISTS workers integer NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN IF NOT EXISTS lease double precision NOT NULL DEFAULT 60;
