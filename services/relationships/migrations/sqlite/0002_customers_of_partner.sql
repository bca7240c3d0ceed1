-- A partner's customer list (ListCustomersOfPartner), SQLite. Keep in step with
-- ../postgres/0002_customers_of_partner.sql.
-- The customers of a partner's own relationships, in client order.
CREATE INDEX relationships_by_partner_client ON relationships (partner_tenant_id, client_tenant_id);
-- The customers an indirect provider's resellers sell to, in client order.
CREATE INDEX relationships_by_provider_client ON relationships
    (indirect_provider_tenant_id, client_tenant_id);
