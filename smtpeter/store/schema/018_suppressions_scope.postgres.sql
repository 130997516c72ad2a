-- A suppression's scope (smtpeter/store/_suppressions.py): '' for the whole
-- gateway (hard bounces, complaints, an administrator's), a login's name for
-- that login's mail only (a one-click unsubscribe). One entry per address and
-- scope (SQLite's twin of this step makes the table anew).
ALTER TABLE suppressions ADD COLUMN login TEXT NOT NULL DEFAULT '';
ALTER TABLE suppressions DROP CONSTRAINT suppressions_pkey;
ALTER TABLE suppressions ADD PRIMARY KEY (address, login);
CREATE INDEX IF NOT EXISTS suppressions_login ON suppressions (login) WHERE login <> '';
