-- The gateway's audit trail (PostgreSQL). Keep in step with ../sqlite/0001_audit.sql.
CREATE TABLE audit_events (
    id TEXT COLLATE "C" PRIMARY KEY,
    event_time BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    actor_tenant_id TEXT COLLATE "C" NOT NULL,
    acting_tenant_id TEXT COLLATE "C" NOT NULL,
    relationship_ids TEXT NOT NULL,
    method TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    request_id TEXT NOT NULL
);
CREATE INDEX audit_events_in_tenant ON audit_events (acting_tenant_id, id);
CREATE INDEX audit_events_by_tenant ON audit_events (actor_tenant_id, id);
