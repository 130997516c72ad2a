-- Hosted images, for a gateway whose database other nodes share (PostgreSQL's twin of
-- this step); a gateway on SQLite keeps them as files under its data directory's
-- images/, and this table stays empty.
CREATE TABLE IF NOT EXISTS images (
    name TEXT PRIMARY KEY,
    content BLOB NOT NULL
);
