-- Roll-ups keep the event name too (the dashboard's events panel reads it), so the name
-- becomes part of a roll-up cell. Rows rolled up before this version: a page view's name
-- is "pageview"; an event's name is not known any more and stays NULL.
ALTER TABLE rollups ADD COLUMN name TEXT;
UPDATE rollups SET name = 'pageview' WHERE kind = 'pageview';
DROP INDEX rollups_cell;
CREATE UNIQUE INDEX rollups_cell ON rollups (day, IFNULL(site, x'00'), kind,
    IFNULL(name, x'00'), IFNULL(path, x'00'), IFNULL(referrer_host, x'00'),
    IFNULL(browser, x'00'), IFNULL(os, x'00'), IFNULL(device, x'00'), IFNULL(lang, x'00'),
    IFNULL(utm_source, x'00'), IFNULL(utm_medium, x'00'), IFNULL(utm_campaign, x'00'),
    IFNULL(revision, x'00'));
