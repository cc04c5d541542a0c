-- Accounts of the dashboard (DESIGN 10): who may sign in, with a password hash only
-- (scrypt, its parameters and salt in the text). Made and removed by `cleargif user`.
CREATE TABLE users (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_login_at INTEGER
);
-- The dashboard's consent panel reads receipts by the day they were made.
CREATE INDEX receipts_created ON receipts (created_at);
