-- The gateway's secret (which signs tracking links and bounce addresses) of
-- every node that shares this database: the first node to start writes its
-- own, and the others take it (smtpeter/store/_secrets.py). A gateway on
-- SQLite keeps it in its data directory's secret.key alone, as before.
CREATE TABLE IF NOT EXISTS secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
