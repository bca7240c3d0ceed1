-- The subscriptions service's tables (SQLite). Keep in step with ../postgres/0001_subscriptions.sql.
-- Ids are UUIDv7 text (time-ordered, so "ORDER BY id" is creation order and serves keyset
-- pages); enums are their protobuf value names; times are microseconds since the epoch (0: not
-- set); flags are 0 or 1 in a BIGINT (sqlx's Any driver has no portable boolean).

-- The offer catalogue: the shipped catalogue.json (upserted at every start, so its fixed ids
-- never repeat) and the offers the operator adds with CreateOffer.
-- `country_codes`: comma-separated ISO codes, "" for every country; an offer of a sovereign
-- cloud always lists that cloud's country.
CREATE TABLE offers (
    id TEXT PRIMARY KEY,
    cloud TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT NOT NULL,
    min_quantity BIGINT NOT NULL,
    max_quantity BIGINT NOT NULL,
    trial_available BIGINT NOT NULL,
    trial_days BIGINT NOT NULL,
    price_currency_code TEXT NOT NULL,
    price_units BIGINT NOT NULL,
    price_nanos BIGINT NOT NULL,
    country_codes TEXT NOT NULL,
    create_time BIGINT NOT NULL
);
CREATE INDEX offers_by_cloud ON offers (cloud, id);

-- Orders. `line_items`: "offer_id:quantity" per line, comma-separated, in order;
-- `subscription_ids`: the subscriptions it created, one per line, comma-separated.
CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    customer_tenant_id TEXT NOT NULL,
    partner_tenant_id TEXT NOT NULL,
    indirect_reseller_id TEXT NOT NULL,
    line_items TEXT NOT NULL,
    subscription_ids TEXT NOT NULL,
    create_time BIGINT NOT NULL
);
CREATE INDEX orders_by_customer ON orders (customer_tenant_id, id);
CREATE INDEX orders_by_partner ON orders (partner_tenant_id, id);

-- Subscriptions. `state` holds TRIAL, ACTIVE, SUSPENDED or CANCELLED: a trial past its
-- `trial_end_time` is EXPIRED, derived at every read from the service's clock. `version` makes
-- the etag and guards every change (a write names the version it read).
CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY,
    customer_tenant_id TEXT NOT NULL,
    offer_id TEXT NOT NULL,
    offer_display_name TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    state TEXT NOT NULL,
    auto_renew BIGINT NOT NULL,
    billing_partner_tenant_id TEXT NOT NULL,
    indirect_reseller_id TEXT NOT NULL,
    partner_of_record_mpn_id TEXT NOT NULL,
    support_contact_tenant_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    trial_end_time BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX subscriptions_by_customer ON subscriptions (customer_tenant_id, id);
CREATE INDEX subscriptions_by_billing_partner ON subscriptions (billing_partner_tenant_id, id);
CREATE INDEX subscriptions_by_reseller ON subscriptions (indirect_reseller_id, id);

-- Every change to a subscription, written in the transaction of the change, for
-- WatchSubscriptionEvents. `cursor` only grows; writers take the `event_writers` row first, so
-- on PostgreSQL too cursors are handed out in commit order and a reader never sees a later
-- cursor before an earlier one. The partners concerned are those after the change, plus the
-- indirect reseller or partner of record the change removed (`previous_…`, else "").
-- `subscription`: the subscription after the change, as encoded protobuf
-- (partnerhub.subscriptions.v1.Subscription).
CREATE TABLE subscription_events (
    cursor INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    billing_partner_tenant_id TEXT NOT NULL,
    indirect_reseller_id TEXT NOT NULL,
    partner_of_record_mpn_id TEXT NOT NULL,
    previous_indirect_reseller_id TEXT NOT NULL,
    previous_partner_of_record_mpn_id TEXT NOT NULL,
    subscription BLOB NOT NULL,
    event_time BIGINT NOT NULL
);
CREATE INDEX subscription_events_by_subscription ON subscription_events (subscription_id, cursor);

-- One row; event writers update it first, which serialises them until they commit.
CREATE TABLE event_writers (
    id BIGINT PRIMARY KEY,
    writes BIGINT NOT NULL
);
INSERT INTO event_writers (id, writes) VALUES (1, 0);

-- Request ids seen, for idempotent creates (see partnerhub_kit::store).
CREATE TABLE request_ids (
    method TEXT NOT NULL,
    request_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    PRIMARY KEY (method, request_id)
);
