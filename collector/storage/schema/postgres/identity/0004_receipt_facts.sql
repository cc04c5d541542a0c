-- What the dashboard counts of each decision, kept beside its body so that a year of
-- receipts is counted from an index rather than by reading every JSON body: the purposes
-- granted, each between spaces (' necessary analytics '), and whether the browser sent GPC
-- or DNT (1 or 0). Cleared with the body when a receipt becomes a tombstone; not part of
-- its hash.
ALTER TABLE cleargif_identity.receipts ADD COLUMN granted TEXT, ADD COLUMN gpc INTEGER,
    ADD COLUMN dnt INTEGER;
UPDATE cleargif_identity.receipts SET
    granted = ' ' || COALESCE((SELECT string_agg(value, ' ') FROM
        jsonb_array_elements_text(body::jsonb -> 'granted')), '') || ' ',
    gpc = CASE WHEN body::jsonb -> 'gpc' = 'true' THEN 1 ELSE 0 END,
    dnt = CASE WHEN body::jsonb -> 'dnt' = 'true' THEN 1 ELSE 0 END
WHERE body IS NOT NULL;
DROP INDEX cleargif_identity.receipts_created;
CREATE INDEX receipts_counted ON cleargif_identity.receipts (created_at)
    INCLUDE (subject_id, granted, gpc, dnt) WHERE body IS NOT NULL;
