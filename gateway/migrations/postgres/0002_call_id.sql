-- The call's request id (x-request-id), to find an audit event's call in the logs and traces.
-- (postgres; keep in step with ../sqlite/0002_call_id.sql.)
ALTER TABLE audit_events ADD COLUMN call_id TEXT NOT NULL DEFAULT '';
