-- The tenants service's tables (PostgreSQL). Keep in step with ../sqlite/0001_tenants.sql.
-- Ids use the "C" collation: byte order, so keyset pages follow creation order as in SQLite.
-- Ids are UUIDv7 text (time-ordered, so "ORDER BY id" is creation order and serves keyset
-- pages); enums are their protobuf value names; times are microseconds since the epoch;
-- lists of enum values (roles, partner types) are comma-separated, sorted; flags are 0 or 1
-- in a BIGINT (sqlx's Any driver has no portable boolean).

CREATE TABLE tenants (
    id TEXT COLLATE "C" PRIMARY KEY,
    kind TEXT NOT NULL,
    display_name TEXT NOT NULL,
    cloud TEXT NOT NULL,
    country_code TEXT NOT NULL,
    domain_prefix TEXT NOT NULL UNIQUE,
    address_lines TEXT NOT NULL,
    locality TEXT NOT NULL,
    administrative_area TEXT NOT NULL,
    postal_code TEXT NOT NULL,
    contact_first_name TEXT NOT NULL,
    contact_last_name TEXT NOT NULL,
    contact_email TEXT NOT NULL,
    contact_phone TEXT NOT NULL,
    state TEXT NOT NULL,
    mpn_id TEXT UNIQUE,
    partner_types TEXT NOT NULL,
    listed BIGINT NOT NULL,
    description TEXT NOT NULL,
    keywords TEXT NOT NULL,
    search_text TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    user_name TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    email TEXT NOT NULL,
    roles TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    password_change_required BIGINT NOT NULL,
    failed_sign_ins BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);
CREATE INDEX users_by_tenant ON users (tenant_id, id);

CREATE TABLE agreements (
    id TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    type TEXT NOT NULL,
    version TEXT NOT NULL,
    signer_first_name TEXT NOT NULL,
    signer_last_name TEXT NOT NULL,
    signer_email TEXT NOT NULL,
    signer_phone TEXT NOT NULL,
    accept_time BIGINT NOT NULL,
    accepted_by_user_id TEXT NOT NULL,
    -- Accepting again with the same signer is the same acceptance, not a second record.
    UNIQUE (tenant_id, type, version, signer_email, signer_first_name, signer_last_name)
);
CREATE INDEX agreements_by_tenant ON agreements (tenant_id, id);

CREATE TABLE request_ids (
    method TEXT NOT NULL,
    request_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    PRIMARY KEY (method, request_id)
);
