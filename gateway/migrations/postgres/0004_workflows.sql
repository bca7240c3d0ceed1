-- The workflows that finish without their caller (CreateCustomer, AcceptInvitation): each is
-- recorded before its first write, with what a gateway needs to run it again, and resumed by
-- any gateway until it is done or failed. (postgres; keep in step with
-- ../sqlite/0004_workflows.sql.)
CREATE TABLE workflows (
    -- A UUIDv7: lists page through workflows in the order they were submitted.
    id TEXT COLLATE "C" PRIMARY KEY,
    -- The kind (a WorkflowKind name) and what the workflow is known by within it.
    kind TEXT NOT NULL,
    workflow_key TEXT NOT NULL,
    request_id TEXT NOT NULL,
    -- The request and the caller's principal, protobuf-encoded, as the workflow used them; the
    -- request is emptied when the workflow ends (an acceptance's holds the invitation code).
    request BYTEA NOT NULL,
    principal BYTEA NOT NULL,
    user_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    -- RUNNING, DONE or FAILED.
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    -- When a gateway may take it up: after the resume delay, the lease or the back-off.
    next_attempt_time BIGINT NOT NULL,
    last_error TEXT NOT NULL,
    -- A failed workflow's answer (code, message, google.rpc.Status details), given to retries.
    failure_code BIGINT NOT NULL,
    failure_message TEXT NOT NULL,
    failure_details BYTEA NOT NULL,
    give_up_time BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL,
    UNIQUE (kind, workflow_key)
);
-- The unfinished ones due (resuming), and the unfinished ones in order (listing).
CREATE INDEX workflows_due ON workflows (state, next_attempt_time);
CREATE INDEX workflows_by_state ON workflows (state, id);
