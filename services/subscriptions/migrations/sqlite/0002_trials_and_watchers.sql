-- Trials whose end has passed are found by state and end time (the lazy TRIAL_ENDED sweep),
-- a customer's subscriptions of one offer by offer (a trial taken before, a trial converted
-- by an order).
CREATE INDEX subscriptions_by_trial_end ON subscriptions (state, trial_end_time);
CREATE INDEX subscriptions_by_customer_offer ON subscriptions (customer_tenant_id, offer_id);
