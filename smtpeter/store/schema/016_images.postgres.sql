-- Hosted images of every node that shares this database (smtpeter/store/_images.py),
-- by the name the gateway gives them (the SHA-256 of their bytes, and an extension).
-- A gateway on SQLite keeps them as files under its data directory's images/.
CREATE TABLE IF NOT EXISTS images (
    name TEXT PRIMARY KEY,
    content BYTEA NOT NULL
);
