-- What the dashboard counts of each decision, kept beside its body so that a year of
-- receipts is counted from an index rather than by reading every JSON body: the purposes
-- granted, each between spaces (' necessary analytics '), and whether the browser sent GPC
-- or DNT (1 or 0). Cleared with the body when a receipt becomes a tombstone; not part of
-- its hash.
ALTER TABLE receipts ADD COLUMN granted TEXT;
ALTER TABLE receipts ADD COLUMN gpc INTEGER;
ALTER TABLE receipts ADD COLUMN dnt INTEGER;
UPDATE receipts SET
    granted = ' ' || COALESCE((SELECT group_concat(value, ' ') FROM
        json_each(json_extract(body, '$.granted'))), '') || ' ',
    gpc = COALESCE(json_extract(body, '$.gpc') = 1, 0),
    dnt = COALESCE(json_extract(body, '$.dnt') = 1, 0)
WHERE body IS NOT NULL;
DROP INDEX receipts_created;
CREATE INDEX receipts_counted ON receipts (created_at, subject_id, granted, gpc, dnt)
    WHERE body IS NOT NULL;
