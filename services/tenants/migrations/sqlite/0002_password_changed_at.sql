-- When the user's password last changed (or was reset), in microseconds since the epoch: the
-- gateway refuses access tokens issued before it, so a change or reset ends old sessions.
ALTER TABLE users ADD COLUMN password_changed_at BIGINT NOT NULL DEFAULT 0;
