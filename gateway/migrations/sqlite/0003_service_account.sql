-- Whether the caller was a service account (1) or a user or the operator (0).
-- (sqlite; keep in step with ../postgres/0003_service_account.sql.)
ALTER TABLE audit_events ADD COLUMN service_account BIGINT NOT NULL DEFAULT 0;
