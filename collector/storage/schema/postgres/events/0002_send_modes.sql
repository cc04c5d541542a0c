-- Sends are recorded with the tracking mode of their mails (individual, aggregate, none),
-- so that a campaign mixing modes can count the people who opened in each; NULL for sends
-- recorded before this version (reports resolve it from the campaign's opens and clicks).
ALTER TABLE cleargif_events.campaign_sends ADD COLUMN mode TEXT;
-- Reports find the fetches of one message (campaign, list, recipient) in time order to
-- tell a scanner's burst; subject export and erasure find a recipient's events.
DROP INDEX cleargif_events.events_recipient;
CREATE INDEX events_recipient ON cleargif_events.events (recipient, campaign, ts)
    WHERE recipient IS NOT NULL;
