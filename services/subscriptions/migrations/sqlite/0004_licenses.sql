-- Licences assigned to users (sqlite; keep in step with ../postgres/0004_licenses.sql).
-- `assigned_licenses` counts the subscription's rows in `license_assignments`, kept in the
-- transaction that adds or removes them: reads (GetSubscription, ListSubscriptions) show the
-- counts without another query, and an assignment takes licences with one guarded UPDATE
-- ("assigned_licenses + n <= quantity"), which also serialises assignments per subscription
-- on PostgreSQL (the row lock), so a race can't assign more than the quantity.
ALTER TABLE subscriptions ADD COLUMN assigned_licenses BIGINT NOT NULL DEFAULT 0;

-- One row per licence a user holds. The user is a user of the subscription's customer
-- (`customer_tenant_id`, checked with the tenants service when assigned). Keyset pages go by
-- `user_id` within a subscription and by `subscription_id` within a user.
CREATE TABLE license_assignments (
    subscription_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    customer_tenant_id TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    PRIMARY KEY (subscription_id, user_id)
);
CREATE INDEX license_assignments_by_user ON license_assignments (customer_tenant_id, user_id, subscription_id);
