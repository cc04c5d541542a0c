-- Daily totals by one dimension (what the dashboard reads, and exports asked for --daily):
-- for each complete local day, site, kind of event and bot or not, the hits and the
-- distinct counts of every value of one dimension ('' for the day's totals, its value
-- NULL). Made once a day by the purge from raw events; kept as long as roll-ups.
CREATE TABLE daily_cells (
    id INTEGER PRIMARY KEY,
    day TEXT NOT NULL,
    site TEXT,
    kind TEXT NOT NULL,
    bot INTEGER NOT NULL,
    dimension TEXT NOT NULL,
    value TEXT,
    hits INTEGER NOT NULL,
    visits INTEGER NOT NULL,
    visitors INTEGER NOT NULL,
    identified INTEGER NOT NULL,
    anonymous INTEGER NOT NULL
);
-- A cell once (NULL and '' kept apart: a NULL is indexed as (1, '')).
CREATE UNIQUE INDEX daily_cells_cell ON daily_cells (day, dimension, kind, bot,
    site IS NULL, IFNULL(site, ''), value IS NULL, IFNULL(value, ''));
-- Reads: one dimension of one site over a stretch of days, answered from the index alone.
CREATE INDEX daily_cells_read ON daily_cells (dimension, site, kind, day, bot, value, hits,
    visits, visitors, identified, anonymous);
-- The days summarised, each in one transaction with its cells.
CREATE TABLE daily_days (
    day TEXT PRIMARY KEY,
    made_at INTEGER NOT NULL
);
