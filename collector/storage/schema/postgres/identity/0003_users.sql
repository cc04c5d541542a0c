-- Accounts of the dashboard (DESIGN 10): who may sign in, with a password hash only
-- (scrypt, its parameters and salt in the text). Made and removed by `cleargif user`.
CREATE TABLE cleargif_identity.users (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_login_at BIGINT
);
-- The dashboard's consent panel reads receipts by the day they were made.
CREATE INDEX receipts_created ON cleargif_identity.receipts (created_at);
