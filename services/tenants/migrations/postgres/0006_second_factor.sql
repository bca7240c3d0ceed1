-- A user's second factor, a TOTP secret (base32): `totp_secret` once confirmed (NULL: none),
-- `totp_pending` between BeginSecondFactorEnrollment and its confirmation. The secret is kept
-- as is: checking a code needs it (protect the database and its backups as the password
-- hashes). `totp_last_step` is the 30-second step of the last code accepted: a code is good
-- once (RFC 6238, 5.2).
-- (postgres; keep in step with ../sqlite/0006_second_factor.sql.)
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_pending TEXT;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;
