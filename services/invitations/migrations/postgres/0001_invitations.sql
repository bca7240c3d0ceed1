-- Request ids seen, for idempotent creates (see partnerhub_kit::store). The service's own
-- tables come with the issue that builds it.
CREATE TABLE request_ids (
    method TEXT NOT NULL,
    request_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    PRIMARY KEY (method, request_id)
);
