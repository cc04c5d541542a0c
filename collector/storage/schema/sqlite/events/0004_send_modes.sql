-- Sends are recorded with the tracking mode of their mails (individual, aggregate, none),
-- so that a campaign mixing modes can count the people who opened in each. Sends recorded
-- before this version did not say their mode: NULL, which reports resolve from the
-- campaign's own opens and clicks (as they did before: all carrying a recipient means
-- individual mails).
ALTER TABLE campaign_sends ADD COLUMN mode TEXT;
-- Reports find the fetches of one message (campaign, list, recipient) in time order to
-- tell a scanner's burst; subject export and erasure find a recipient's events.
CREATE INDEX events_recipient ON events (recipient, campaign, ts) WHERE recipient IS NOT NULL;
