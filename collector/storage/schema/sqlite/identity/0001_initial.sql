-- The identity store as the first release made it. IF NOT EXISTS: files made before
-- numbered migrations already hold these tables, and adopt this version unchanged.
CREATE TABLE IF NOT EXISTS receipts (
    seq INTEGER PRIMARY KEY,
    receipt_id TEXT NOT NULL UNIQUE,
    subject_id TEXT,
    created_at INTEGER NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    body TEXT,
    tombstone_reason TEXT,
    tombstoned_at INTEGER,
    -- Which receipt key signed the hash, and the tombstone's own seal ("key id:hmac").
    key_id TEXT NOT NULL DEFAULT '',
    tombstone_seal TEXT
);
CREATE INDEX IF NOT EXISTS receipts_subject ON receipts (subject_id);
CREATE TABLE IF NOT EXISTS suppressions (
    list TEXT NOT NULL,
    recipient TEXT NOT NULL,
    campaign TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (list, recipient)
);
CREATE TABLE IF NOT EXISTS api_tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject_hmac TEXT,
    reason TEXT,
    detail TEXT
);
