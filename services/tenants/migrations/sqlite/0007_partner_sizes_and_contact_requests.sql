-- Seed 001's "Hitta en partner" (sqlite; keep in step with
-- ../postgres/0007_partner_sizes_and_contact_requests.sql).
-- The sizes of organisations a partner works with, for SearchPartners: CompanySize value names,
-- comma-separated; '' when not said (and for customers).
ALTER TABLE tenants ADD COLUMN customer_sizes TEXT NOT NULL DEFAULT '';

-- A customer's request to be contacted (ContactPartners): one row per partner it was sent to,
-- the rows of one call sharing `group_id`. `invitation_id` is '' and `answer_time` 0 until the
-- partner answers with an invitation. The limit per customer counts the rows of the last day
-- (contact_requests_by_customer).
CREATE TABLE contact_requests (
    id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL,
    customer_tenant_id TEXT NOT NULL,
    partner_tenant_id TEXT NOT NULL,
    needs TEXT NOT NULL,
    contact_first_name TEXT NOT NULL,
    contact_last_name TEXT NOT NULL,
    contact_email TEXT NOT NULL,
    contact_phone TEXT NOT NULL,
    invitation_id TEXT NOT NULL DEFAULT '',
    create_time BIGINT NOT NULL,
    answer_time BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX contact_requests_by_partner ON contact_requests (partner_tenant_id, id);
CREATE INDEX contact_requests_by_customer ON contact_requests (customer_tenant_id, create_time);
