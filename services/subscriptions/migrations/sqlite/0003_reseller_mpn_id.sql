-- The indirect reseller's partner ID ("Reseller (MPN ID)", seed 003), kept with its tenant id
-- when the reseller is set: partner IDs never change, so a read needs no call to the tenants
-- service. Subscriptions sold through a reseller before this column keep "" until their
-- reseller changes.
ALTER TABLE subscriptions ADD COLUMN indirect_reseller_mpn_id TEXT NOT NULL DEFAULT '';
