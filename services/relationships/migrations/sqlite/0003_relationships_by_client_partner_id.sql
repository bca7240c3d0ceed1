-- Relationships between one client and one partner, in id order (sqlite; keep in step with the
-- other backend's 0003). Replaces relationships_by_client (client, partner): with the id last,
-- "the active relationship of a kind between these two, oldest first" (CreateRelationships,
-- CheckAccess) and a ListRelationships page of one client and partner are a seek, not a walk
-- through every relationship of the partner (which grew with each customer).
CREATE INDEX relationships_by_client_partner_id ON relationships
    (client_tenant_id, partner_tenant_id, id);
DROP INDEX relationships_by_client;
