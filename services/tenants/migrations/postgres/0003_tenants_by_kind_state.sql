-- A kind's tenants in one state, in id order: ListTenants filtered by kind and SearchPartners
-- (active partners) walk only those, not every tenant.
-- (postgres; keep in step with ../sqlite/0003_tenants_by_kind_state.sql.)
CREATE INDEX tenants_by_kind_state ON tenants (kind, state, id);
