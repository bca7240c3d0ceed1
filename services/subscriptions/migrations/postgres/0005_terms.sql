-- Terms, billing cycles and upgrades (seed 003; Partner Center). Keep in step with
-- ../sqlite/0005_terms.sql.
-- `terms`: the terms an offer is sold on, "TERM_DURATION_…:BILLING_CYCLE_…" comma-separated,
-- the first the default; offers made before terms are sold on a monthly term billed monthly.
-- `upgrade_offer_ids`: the offers a subscription of it may move to, comma-separated.
ALTER TABLE offers ADD COLUMN terms TEXT NOT NULL DEFAULT 'TERM_DURATION_MONTHLY:BILLING_CYCLE_MONTHLY';
ALTER TABLE offers ADD COLUMN upgrade_offer_ids TEXT NOT NULL DEFAULT '';
-- A subscription's term ("" for a trial) and its current term's start and end (0: none). A
-- term past its end has renewed (auto-renew) or expired, derived at every read until the
-- sweep stores it with its event.
ALTER TABLE subscriptions ADD COLUMN term TEXT NOT NULL DEFAULT '';
ALTER TABLE subscriptions ADD COLUMN term_start_time BIGINT NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN term_end_time BIGINT NOT NULL DEFAULT 0;
-- Paid subscriptions made before terms: a first monthly term starts now (30 days, in
-- microseconds), rather than one back-dated to their creation that would end at once.
UPDATE subscriptions SET term = 'TERM_DURATION_MONTHLY:BILLING_CYCLE_MONTHLY',
    term_start_time = CAST(EXTRACT(EPOCH FROM now()) AS BIGINT) * 1000000,
    term_end_time = CAST(EXTRACT(EPOCH FROM now()) AS BIGINT) * 1000000 + 2592000000000
    WHERE state IN ('STATE_ACTIVE', 'STATE_SUSPENDED');
-- Terms whose end has passed are found by state and end time (the lazy RENEWED/TERM_ENDED sweep).
CREATE INDEX subscriptions_by_term_end ON subscriptions (state, term_end_time);
