-- Hold mode: a login's mail is accepted and kept, never delivered
ALTER TABLE logins ADD COLUMN hold INTEGER NOT NULL DEFAULT 0;
