-- Service requests (partnerhub.support.v1, hosted by the subscriptions server). Keep in step with
-- ../postgres/0007_service_requests.sql. Ids are UUIDv7 text ("ORDER BY id" is creation order);
-- enums are their protobuf value names; times are microseconds since the epoch (0: not set).
-- `subscription_id` is "" for a request about the tenant; a partner's queue joins it to
-- `subscriptions.support_contact_tenant_id`, so the queue follows the support contact as it
-- changes. `acting_partner_tenant_id` is the partner that opened the request for the customer
-- ("" when the customer did); `version` makes the etag and guards every change.
CREATE TABLE service_requests (
    id TEXT PRIMARY KEY,
    customer_tenant_id TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    severity TEXT NOT NULL,
    state TEXT NOT NULL,
    contact_email TEXT NOT NULL,
    contact_phone TEXT NOT NULL,
    acting_partner_tenant_id TEXT NOT NULL,
    creator_user_id TEXT NOT NULL,
    resolution TEXT NOT NULL,
    closer_tenant_id TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL,
    close_time BIGINT NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX service_requests_by_customer ON service_requests (customer_tenant_id, id);
CREATE INDEX service_requests_by_acting_partner ON service_requests (acting_partner_tenant_id, id);
CREATE INDEX service_requests_by_subscription ON service_requests (subscription_id, id);
-- A partner's queue: the subscriptions it is the designated support contact of.
CREATE INDEX subscriptions_by_support_contact ON subscriptions (support_contact_tenant_id, id);

-- The notes of a request, by the customer or a partner, oldest first by id.
CREATE TABLE service_request_notes (
    id TEXT PRIMARY KEY,
    service_request_id TEXT NOT NULL,
    author_tenant_id TEXT NOT NULL,
    author_user_id TEXT NOT NULL,
    text TEXT NOT NULL,
    create_time BIGINT NOT NULL
);
CREATE INDEX service_request_notes_by_request ON service_request_notes (service_request_id, id);
