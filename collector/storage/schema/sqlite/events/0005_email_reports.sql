-- Campaign reports (cleargif campaign report, the dashboard's email panel) count a
-- campaign's opens and clicks by kind, agent and link, with distinct recipients. This
-- index answers each of those counts from the index alone; only email events carry a
-- campaign, so page views never write to it.
CREATE INDEX events_email ON events (campaign, kind, agent, link, recipient)
    WHERE campaign IS NOT NULL;
