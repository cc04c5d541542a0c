-- The event store as the first release made it. IF NOT EXISTS: files made before
-- numbered migrations already hold these tables, and adopt this version unchanged.
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    ts INTEGER,
    kind TEXT,
    name TEXT,
    site TEXT,
    path TEXT,
    referrer_host TEXT,
    utm_source TEXT,
    utm_medium TEXT,
    utm_campaign TEXT,
    campaign TEXT,
    list TEXT,
    link TEXT,
    recipient TEXT,
    browser TEXT,
    browser_major TEXT,
    os TEXT,
    device TEXT,
    lang TEXT,
    agent TEXT,
    purposes TEXT,
    revision INTEGER,
    session_id TEXT,
    visitor_id TEXT
);
CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
CREATE INDEX IF NOT EXISTS events_campaign ON events (campaign) WHERE campaign IS NOT NULL;
CREATE TABLE IF NOT EXISTS campaign_sends (
    id INTEGER PRIMARY KEY,
    campaign TEXT NOT NULL,
    list TEXT,
    count INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS campaign_sends_campaign ON campaign_sends (campaign);
CREATE TABLE IF NOT EXISTS dropped (
    day TEXT NOT NULL,
    reason TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (day, reason)
);
CREATE TABLE IF NOT EXISTS rollups (
    day TEXT NOT NULL,
    site TEXT,
    kind TEXT NOT NULL,
    path TEXT,
    referrer_host TEXT,
    browser TEXT,
    os TEXT,
    device TEXT,
    lang TEXT,
    utm_source TEXT,
    utm_medium TEXT,
    utm_campaign TEXT,
    revision INTEGER,
    hits INTEGER NOT NULL,
    visits INTEGER NOT NULL,
    visitors INTEGER NOT NULL
);
-- One row per day and cell. NULLs are never equal in a UNIQUE index, so each nullable
-- column is indexed as IFNULL(col, x'00'): a blob equals no text, so NULL and '' differ.
CREATE UNIQUE INDEX IF NOT EXISTS rollups_cell ON rollups (day, IFNULL(site, x'00'), kind,
    IFNULL(path, x'00'), IFNULL(referrer_host, x'00'), IFNULL(browser, x'00'),
    IFNULL(os, x'00'), IFNULL(device, x'00'), IFNULL(lang, x'00'),
    IFNULL(utm_source, x'00'), IFNULL(utm_medium, x'00'), IFNULL(utm_campaign, x'00'),
    IFNULL(revision, x'00'));
-- Facts about the stored data, such as the time zone roll-ups are filed in.
CREATE TABLE IF NOT EXISTS store_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
