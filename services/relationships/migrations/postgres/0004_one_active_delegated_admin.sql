-- At most one delegated admin stored ACTIVE per partner and customer (postgres; keep in step with
-- ../sqlite/0004). Until now an expired grant stayed stored ACTIVE beside the grant that
-- replaced it, so the unique index left delegated admin out, and concurrent grants with
-- different request ids could each insert one. Now a new grant stores the expired one EXPIRED
-- first (store::retire_expired), and the index covers every kind.

-- Expired grants still stored ACTIVE are stored EXPIRED (what every read shows already).
UPDATE relationships SET state = 'STATE_EXPIRED'
WHERE state = 'STATE_ACTIVE' AND end_time <> 0 AND auto_extend = 0
  AND end_time <= CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT);

-- Grants a race left side by side: the oldest stays (the one every read used), the others are
-- terminated now.
UPDATE relationships SET state = 'STATE_TERMINATED',
    terminate_time = CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT),
    update_time = CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)
WHERE state = 'STATE_ACTIVE' AND EXISTS (
    SELECT 1 FROM relationships older
    WHERE older.state = 'STATE_ACTIVE'
      AND older.type = relationships.type
      AND older.partner_tenant_id = relationships.partner_tenant_id
      AND older.client_tenant_id = relationships.client_tenant_id
      AND older.indirect_provider_tenant_id = relationships.indirect_provider_tenant_id
      AND older.id < relationships.id
);

DROP INDEX relationships_one_active;
CREATE UNIQUE INDEX relationships_one_active ON relationships
    (type, partner_tenant_id, client_tenant_id, indirect_provider_tenant_id)
    WHERE state = 'STATE_ACTIVE';
