-- The shared database as the first versioned release found it: every table
-- and index, in the shape before the columns that steps 002-009 add (a data
-- directory from before schema_version may lack any of those; see
-- smtpeter/store/_migrate.py). IF NOT EXISTS: such a directory may also lack
-- whole tables, which were made when first used.

-- SMTP logins (smtpeter/store/_logins.py)
CREATE TABLE IF NOT EXISTS logins (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    features TEXT NOT NULL DEFAULT '[]',
    created REAL NOT NULL,
    last_used REAL
);

-- REST API tokens (_apitokens.py)
CREATE TABLE IF NOT EXISTS api_tokens (
    name TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    last_used REAL
);

-- DKIM keys of sender domains (_domains.py)
CREATE TABLE IF NOT EXISTS dkim_keys (
    domain TEXT NOT NULL,
    selector TEXT NOT NULL,
    private_key TEXT NOT NULL,
    created REAL NOT NULL,
    active INTEGER NOT NULL,
    PRIMARY KEY (domain, selector)
);

-- Messages and their events (_events.py), the links each was sent with (_links.py)
CREATE TABLE IF NOT EXISTS messages (
    qid TEXT PRIMARY KEY,
    received REAL NOT NULL,
    sender TEXT NOT NULL,
    recipients TEXT NOT NULL,
    ret TEXT,
    envid TEXT,
    tags TEXT NOT NULL,
    options TEXT NOT NULL,
    dsn INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_received ON messages (received);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    time REAL NOT NULL,
    qid TEXT NOT NULL,
    recipient TEXT NOT NULL,
    tags TEXT NOT NULL,
    details TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_message ON events (qid, recipient);
CREATE INDEX IF NOT EXISTS events_recipient ON events (recipient COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS events_time ON events (time);
CREATE INDEX IF NOT EXISTS events_type_time ON events (type, time);
CREATE TABLE IF NOT EXISTS event_tags (
    tag TEXT NOT NULL,
    event INTEGER NOT NULL,
    PRIMARY KEY (tag, event)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS message_links (
    qid TEXT PRIMARY KEY,
    links TEXT NOT NULL
);

-- Webhooks, their queued deliveries and the attempts' log (_webhooks.py)
CREATE TABLE IF NOT EXISTS webhooks (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    disabled_reason TEXT,
    created REAL NOT NULL,
    last_success REAL,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id INTEGER PRIMARY KEY,
    webhook INTEGER NOT NULL,
    event INTEGER NOT NULL,
    type TEXT NOT NULL,
    body TEXT NOT NULL,
    created REAL NOT NULL,
    next_attempt REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (next_attempt);
CREATE TABLE IF NOT EXISTS webhook_attempts (
    id INTEGER PRIMARY KEY,
    webhook INTEGER NOT NULL,
    time REAL NOT NULL,
    uid TEXT,
    event INTEGER NOT NULL,
    type TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS webhook_attempts_webhook ON webhook_attempts (webhook, id);

-- AUTH failures and bans (_throttle.py)
CREATE TABLE IF NOT EXISTS auth_failures (address TEXT NOT NULL, time REAL NOT NULL);
CREATE INDEX IF NOT EXISTS auth_failures_address ON auth_failures (address, time);
CREATE INDEX IF NOT EXISTS auth_failures_time ON auth_failures (time);
CREATE TABLE IF NOT EXISTS auth_bans (address TEXT PRIMARY KEY, until REAL NOT NULL);

-- Suppressed recipients (_suppressions.py)
CREATE TABLE IF NOT EXISTS suppressions (
    address TEXT PRIMARY KEY COLLATE NOCASE,
    reason TEXT NOT NULL,
    created REAL NOT NULL,
    expires REAL,
    qid TEXT
);
CREATE INDEX IF NOT EXISTS suppressions_expires ON suppressions (expires);

-- Queue actions asked for by the CLI, the API and the dashboard (_queuerequests.py)
CREATE TABLE IF NOT EXISTS queue_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    qid TEXT NOT NULL,
    action TEXT NOT NULL,
    created REAL NOT NULL
);

-- Dashboard users and their sessions (_admins.py, _dashboardsessions.py)
CREATE TABLE IF NOT EXISTS admin_users (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created REAL NOT NULL,
    last_login REAL,
    generation INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS dashboard_sessions (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS dashboard_sessions_expires ON dashboard_sessions (expires);

-- Hourly counts for the statistics (_stats.py)
CREATE TABLE IF NOT EXISTS stats_hourly (
    hour INTEGER NOT NULL,
    login TEXT NOT NULL,
    tag TEXT NOT NULL,
    domain TEXT NOT NULL,
    kind TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (hour, tag, login, domain, kind)
) WITHOUT ROWID;
