-- Campaign reports count a campaign's opens and clicks by kind, agent and link, with
-- distinct recipients; only email events carry a campaign.
CREATE INDEX events_email ON cleargif_events.events (campaign, kind, agent, link, recipient)
    WHERE campaign IS NOT NULL;
