-- The invitations service's tables (PostgreSQL). Keep in step with ../sqlite/0001_invitations.sql.
-- Ids use the "C" collation: byte order, so keyset pages follow creation order as in SQLite.
-- Ids are UUIDv7 text (time-ordered, so "ORDER BY id" is creation order and serves keyset
-- pages); enums are their protobuf value names; times are microseconds since the epoch; lists
-- of roles are comma-separated names, sorted; flags are 0 or 1 in a BIGINT (sqlx's Any driver
-- has no portable boolean). Empty text means "not set".

CREATE TABLE invitations (
    id TEXT COLLATE "C" PRIMARY KEY,
    kind TEXT NOT NULL,
    inviter_tenant_id TEXT COLLATE "C" NOT NULL,
    invitee_tenant_id TEXT COLLATE "C" NOT NULL,
    invitee_email TEXT NOT NULL,
    locale TEXT NOT NULL,
    cloud TEXT NOT NULL,
    delegated_admin BIGINT NOT NULL,
    delegated_admin_roles TEXT NOT NULL,
    -- 0: no end.
    delegated_admin_duration_seconds BIGINT NOT NULL,
    delegated_admin_auto_extend BIGINT NOT NULL,
    -- Offers of TRIAL and PURCHASE_OFFER invitations (later); empty for the other kinds.
    line_items TEXT NOT NULL,
    -- SHA-256 (hex) of the code in the link; the code itself is never stored.
    code_hash TEXT NOT NULL UNIQUE,
    -- PENDING, ACCEPTED, DECLINED or REVOKED; a PENDING row past expire_time reads as EXPIRED.
    state TEXT NOT NULL,
    reusable BIGINT NOT NULL,
    use_count BIGINT NOT NULL,
    responded_tenant_id TEXT COLLATE "C" NOT NULL,
    expire_time BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);
CREATE INDEX invitations_by_inviter ON invitations (inviter_tenant_id, id);

-- Who used an invitation: one row per tenant (single-use kinds have at most one).
CREATE TABLE redemptions (
    invitation_id TEXT COLLATE "C" NOT NULL REFERENCES invitations (id),
    tenant_id TEXT COLLATE "C" NOT NULL,
    -- The request id of the redeem ('' if none), so a retry answers as the first call did.
    request_id TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    PRIMARY KEY (invitation_id, tenant_id)
);

-- Request ids seen, for idempotent creates (see partnerhub_kit::store).
CREATE TABLE request_ids (
    method TEXT NOT NULL,
    request_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    PRIMARY KEY (method, request_id)
);
