-- Per-login limits and sender domains (smtpeter/store/_limits.py): a rate
-- and a quota of recipients ('100/minute', '5000/day'; NULL: none), what
-- is done over the quota ('refuse' or 'hold'), and the domains its senders
-- must be in (a JSON list; empty: any sender).
ALTER TABLE logins ADD COLUMN rate TEXT;
ALTER TABLE logins ADD COLUMN quota TEXT;
ALTER TABLE logins ADD COLUMN over_quota TEXT NOT NULL DEFAULT 'refuse';
ALTER TABLE logins ADD COLUMN sender_domains TEXT NOT NULL DEFAULT '[]';
-- Recipients each login was accepted for, per window of its limits (the
-- window's start, in seconds since the epoch), added by every worker.
CREATE TABLE login_usage (
    login TEXT NOT NULL,
    span TEXT NOT NULL,
    start BIGINT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (login, span, start)
);
