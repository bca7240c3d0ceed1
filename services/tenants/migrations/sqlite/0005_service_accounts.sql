-- Service accounts: a tenant's machine callers. They hold roles like users (the same role
-- names, comma-separated, sorted) but have no user name and no password: they sign in with
-- their id and one of their secrets. A secret is kept as the SHA-256 of its value
-- ($sha256$ and the unpadded base64 digest); `expire_time` 0 is "never".
-- `tokens_revoked_at` (microseconds, 0: never) voids the account's tokens issued before it.
-- (sqlite; keep in step with ../postgres/0005_service_accounts.sql.)
CREATE TABLE service_accounts (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    display_name TEXT NOT NULL,
    roles TEXT NOT NULL,
    tokens_revoked_at BIGINT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);
CREATE INDEX service_accounts_by_tenant ON service_accounts (tenant_id, id);

CREATE TABLE service_account_secrets (
    id TEXT PRIMARY KEY,
    service_account_id TEXT NOT NULL REFERENCES service_accounts (id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    expire_time BIGINT NOT NULL,
    create_time BIGINT NOT NULL
);
CREATE INDEX service_account_secrets_by_account ON service_account_secrets (service_account_id, id);
