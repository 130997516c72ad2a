-- A suppression's scope (smtpeter/store/_suppressions.py): '' for the whole
-- gateway (hard bounces, complaints, an administrator's), a login's name for
-- that login's mail only (a one-click unsubscribe). One entry per address and
-- scope. SQLite cannot change a primary key: the table is made anew.
CREATE TABLE suppressions_scoped (
    address TEXT NOT NULL COLLATE NOCASE,
    reason TEXT NOT NULL,
    created REAL NOT NULL,
    expires REAL,
    qid TEXT,
    login TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (address, login)
);
INSERT INTO suppressions_scoped (address, reason, created, expires, qid, login)
    SELECT address, reason, created, expires, qid, '' FROM suppressions;
DROP TABLE suppressions;
ALTER TABLE suppressions_scoped RENAME TO suppressions;
CREATE INDEX IF NOT EXISTS suppressions_expires ON suppressions (expires);
CREATE INDEX IF NOT EXISTS suppressions_login ON suppressions (login) WHERE login <> '';
