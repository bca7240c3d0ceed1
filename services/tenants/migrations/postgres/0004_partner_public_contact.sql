-- A partner's public contact details, shown to its customers, in invitations and in search
-- (seed 002): phone, e-mail and website, each '' when none is given. Customers have none.
-- (postgres; keep in step with ../sqlite/0004_partner_public_contact.sql.)
ALTER TABLE tenants ADD COLUMN public_phone TEXT NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN public_email TEXT NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN website TEXT NOT NULL DEFAULT '';
