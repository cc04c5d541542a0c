-- Why a recipient is on the suppression list: 'unsubscribe' (their own request, through
-- /u/), 'bounce' (the address does not work), 'complaint' (they reported the mail as
-- spam), 'manual' (the sender said so, through the API). Entries made before this
-- version: the collector's /u/ always recorded the campaign as provenance and the API's
-- entries usually had none, so an entry with a campaign is an unsubscribe, one without
-- a manual entry.
ALTER TABLE suppressions ADD COLUMN reason TEXT NOT NULL DEFAULT 'manual';
UPDATE suppressions SET reason = 'unsubscribe' WHERE campaign IS NOT NULL;
