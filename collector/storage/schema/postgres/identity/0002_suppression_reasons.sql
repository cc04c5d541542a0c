-- Why a recipient is on the suppression list: 'unsubscribe' (their own request, through
-- /u/), 'bounce', 'complaint' or 'manual' (the sender said so, through the API). Entries
-- made before this version: those with a campaign came from /u/, the others are manual.
ALTER TABLE cleargif_identity.suppressions ADD COLUMN reason TEXT NOT NULL DEFAULT 'manual';
UPDATE cleargif_identity.suppressions SET reason = 'unsubscribe' WHERE campaign IS NOT NULL;
