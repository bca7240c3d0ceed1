-- Product keys (seed 002, CreateProductKeys / RedeemProductKey). Keep in step with
-- ../sqlite/0006_product_keys.sql.
-- `key_hash`: the SHA-256 of the key's canonical form (lower-case hex); the key itself is never
-- stored. `batch_id`: the CreateProductKeys call that issued it (a retry answers its keys).
-- `country_code`: "" when the key may be used in any of the offer's countries. The redemption
-- columns stay "" / 0 until the key is redeemed; a redemption sets them only where
-- `subscription_id` is still "", so a key is redeemed once even when two try at once.
CREATE TABLE product_keys (
    id TEXT COLLATE "C" PRIMARY KEY,
    batch_id TEXT COLLATE "C" NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    offer_id TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    country_code TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    partner_tenant_id TEXT NOT NULL DEFAULT '',
    customer_tenant_id TEXT NOT NULL DEFAULT '',
    order_id TEXT NOT NULL DEFAULT '',
    subscription_id TEXT NOT NULL DEFAULT '',
    redeem_time BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX product_keys_by_batch ON product_keys (batch_id, id);
