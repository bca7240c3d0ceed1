-- The relationships service's tables (PostgreSQL). Keep in step with ../sqlite/0001_relationships.sql.
-- Id columns that order keyset pages use the "C" collation: byte order, as in SQLite.
-- Ids are UUIDv7 text (time-ordered, so "ORDER BY id" is creation order and serves keyset
-- pages); enums are their protobuf value names; times are microseconds since the epoch (0: not
-- set); roles are comma-separated role names in enum order; flags are 0 or 1 in a BIGINT (sqlx's
-- Any driver has no portable boolean).
--
-- `state` holds only STATE_ACTIVE or STATE_TERMINATED: EXPIRED depends on the time of reading
-- (a delegated admin past its `end_time` without auto-extend), so every read derives it from
-- `end_time`, `auto_extend` and the service's clock.

CREATE TABLE relationships (
    id TEXT COLLATE "C" PRIMARY KEY,
    type TEXT NOT NULL,
    partner_tenant_id TEXT COLLATE "C" NOT NULL,
    client_tenant_id TEXT COLLATE "C" NOT NULL,
    state TEXT NOT NULL,
    indirect_provider_tenant_id TEXT NOT NULL,
    roles TEXT NOT NULL,
    end_time BIGINT NOT NULL,
    auto_extend BIGINT NOT NULL,
    invitation_id TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL,
    terminate_time BIGINT NOT NULL
);
-- A customer's partners (ListPartnersOfCustomer, CheckAccess, RemoveAdminRoles).
CREATE INDEX relationships_by_client ON relationships (client_tenant_id, partner_tenant_id);
-- A partner's relationships, in pages.
CREATE INDEX relationships_by_partner ON relationships (partner_tenant_id, id);
-- At most one active relationship of a kind between the same parties, even when two creates
-- race. Delegated admin is left out: an expired one is still stored ACTIVE, and a new grant
-- then makes a new relationship beside it.
CREATE UNIQUE INDEX relationships_one_active ON relationships
    (type, partner_tenant_id, client_tenant_id, indirect_provider_tenant_id)
    WHERE state = 'STATE_ACTIVE' AND type <> 'RELATIONSHIP_TYPE_DELEGATED_ADMIN';

CREATE TABLE request_ids (
    method TEXT NOT NULL,
    request_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    PRIMARY KEY (method, request_id)
);
