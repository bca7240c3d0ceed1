"""Seed 004 with a Python client generated from proto/ by grpcio-tools.

A partner asks a customer for a reseller relationship with delegated admin; the customer is
refused until it accepts the customer agreement, then sees the partner on its partners page; the
partner's admin agent acts in the customer's tenant until the customer removes the admin roles.
The same story as the README's walkthrough and tests/tests/seed_004.rs, through the gateway.

    PYTHONPATH=<generated code> PARTNERHUB_OPERATOR_TOKEN=<token> \
        python seed004.py --gateway 127.0.0.1:50051 --tenants 127.0.0.1:50052

`--tenants` is the tenants service itself (loopback only): the story's customer is made there,
as in the README, because it came to partnerhub some other way than through the partner. The
service answers only calls proven with the internal key: PARTNERHUB_ASSERTION_CREATE_CUSTOMER_TENANT
and PARTNERHUB_ASSERTION_ACTIVATE_TENANT hold `partnerhub internal-credential`'s assertions.
tests/clients/run.sh generates the code, starts `partnerhub dev` and runs this.
"""

import argparse
import os

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from partnerhub.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from partnerhub.invitations.v1 import invitations_pb2, invitations_pb2_grpc
from partnerhub.relationships.v1 import relationships_pb2, relationships_pb2_grpc
from partnerhub.tenants.v1 import internal_pb2, internal_pb2_grpc
from partnerhub.tenants.v1 import tenants_pb2, tenants_pb2_grpc
from partnerhub.type.v1 import type_pb2

RESELLER = relationships_pb2.RELATIONSHIP_TYPE_RESELLER
DELEGATED_ADMIN = relationships_pb2.RELATIONSHIP_TYPE_DELEGATED_ADMIN


def ok(what):
    print(f"ok: python: {what}", flush=True)


def bearer(token):
    """The metadata every call but SignIn carries."""
    return (("authorization", f"Bearer {token}"),)


def refused(call, request, token=None):
    """Makes a call that must fail; returns (code, ErrorInfo, BadRequest or None, message)."""
    try:
        call(request, metadata=bearer(token) if token else None)
    except grpc.RpcError as err:
        # grpc-status-details-bin holds a google.rpc.Status whose details are Any messages.
        status = rpc_status.from_call(err)
        assert status is not None, f"{err.code()} without status details: {err.details()}"
        info, bad_request = None, None
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad_request = error_details_pb2.BadRequest()
                detail.Unpack(bad_request)
        assert info is not None, f"no ErrorInfo in {status}"
        return err.code(), info, bad_request, err.details()
    raise AssertionError(f"{getattr(call, '_method', call)!r} was expected to fail and succeeded")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", default="127.0.0.1:50051")
    parser.add_argument("--tenants", default="127.0.0.1:50052")
    args = parser.parse_args()
    operator = os.environ["PARTNERHUB_OPERATOR_TOKEN"]

    gateway = grpc.insecure_channel(args.gateway)
    auth = gateway_pb2_grpc.AuthServiceStub(gateway)
    workflows = gateway_pb2_grpc.WorkflowServiceStub(gateway)
    tenants = tenants_pb2_grpc.TenantServiceStub(gateway)
    invitations = invitations_pb2_grpc.InvitationServiceStub(gateway)
    relationships = relationships_pb2_grpc.RelationshipServiceStub(gateway)

    def sign_in(user_name, password, new_password):
        """Signs in with a temporary password and changes it; returns the full token."""
        signed_in = auth.SignIn(gateway_pb2.SignInRequest(user_name=user_name, password=password))
        assert signed_in.password_change_required, "a temporary password must be changed"
        changed = auth.ChangePassword(
            gateway_pb2.ChangePasswordRequest(current_password=password, new_password=new_password),
            metadata=bearer(signed_in.access_token),
        )
        return changed.access_token

    # The operator enrols the partner; the answer holds its first admin and temporary password.
    enrolled = tenants.CreatePartner(
        tenants_pb2.CreatePartnerRequest(
            partner=tenants_pb2.Tenant(
                display_name="Fabrikam Solutions AB",
                cloud=type_pb2.CLOUD_WORLDWIDE,
                country_code="SE",
                domain_prefix="fabrikam",
                address=type_pb2.PostalAddress(
                    address_lines=["Drottninggatan 1"], locality="Stockholm", postal_code="111 51"
                ),
                contact=type_pb2.Contact(first_name="Ann", last_name="Berg", email="ann@fabrikam.example"),
                partner=tenants_pb2.PartnerProfile(
                    mpn_id="1234567",
                    partner_types=[type_pb2.PARTNER_TYPE_INDIRECT_PROVIDER],
                    listed=True,
                    description="Cloud services for Nordic schools",
                ),
            ),
            request_id="0b6f3c52-3f0e-4c41-9d7a-2f4a61a3c001",
        ),
        metadata=bearer(operator),
    )
    partner = enrolled.partner
    assert partner.kind == tenants_pb2.Tenant.KIND_PARTNER
    assert enrolled.admin_user.user_name == "admin@fabrikam.onpartnerhub.com", enrolled.admin_user
    assert enrolled.temporary_password
    ok("the operator enrols Fabrikam with its first admin")

    # The temporary password only allows ChangePassword.
    first = auth.SignIn(
        gateway_pb2.SignInRequest(user_name="admin@fabrikam.onpartnerhub.com", password=enrolled.temporary_password)
    )
    code, info, _, _ = refused(tenants.GetTenant, tenants_pb2.GetTenantRequest(tenant_id=partner.id), first.access_token)
    assert (code, info.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "PASSWORD_CHANGE_REQUIRED"), (code, info)
    token = auth.ChangePassword(
        gateway_pb2.ChangePasswordRequest(current_password=enrolled.temporary_password, new_password="Fika-1234-Stockholm"),
        metadata=bearer(first.access_token),
    ).access_token
    tenant = tenants.GetTenant(tenants_pb2.GetTenantRequest(tenant_id=partner.id), metadata=bearer(token)).tenant
    assert tenant.display_name == "Fabrikam Solutions AB" and tenant.partner.mpn_id == "1234567", tenant
    ok("a temporary password only allows ChangePassword (ErrorInfo PASSWORD_CHANGE_REQUIRED), then GetTenant works")

    # An admin agent, who will act in the customer's tenant once delegated admin exists.
    erik = tenants.CreateUser(
        tenants_pb2.CreateUserRequest(
            tenant_id=partner.id,
            user=tenants_pb2.User(user_name="erik", display_name="Erik Lind", roles=[type_pb2.ROLE_ADMIN_AGENT]),
        ),
        metadata=bearer(token),
    )
    assert erik.user.user_name == "erik@fabrikam.onpartnerhub.com", erik.user
    ok("the partner's admin creates the admin agent erik@fabrikam.onpartnerhub.com")

    # Every bad field is named in a google.rpc.BadRequest.
    code, info, bad_request, message = refused(
        tenants.CreateUser,
        tenants_pb2.CreateUserRequest(
            tenant_id=partner.id, user=tenants_pb2.User(user_name="not valid", roles=[type_pb2.ROLE_HELPDESK_ADMIN])
        ),
        token,
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT, code
    assert (info.reason, info.domain) == ("INVALID_ARGUMENT", "tenants.partnerhub"), info
    assert bad_request is not None, f"no BadRequest in {message}"
    fields = [v.field for v in bad_request.field_violations]
    assert "user.user_name" in fields and "user.display_name" in fields, fields
    ok(f"a bad CreateUser is INVALID_ARGUMENT with a BadRequest naming {', '.join(fields)}")

    # The partner asks for a reseller relationship with delegated admin (no roles named).
    created = invitations.CreateInvitation(
        invitations_pb2.CreateInvitationRequest(
            invitation=invitations_pb2.Invitation(
                kind=invitations_pb2.INVITATION_KIND_RESELLER_RELATIONSHIP,
                inviter_tenant_id=partner.id,
                invitee_email="maja@skolan.example",
                delegated_admin=invitations_pb2.DelegatedAdminRequest(),
            )
        ),
        metadata=bearer(token),
    )
    invite_code = created.code
    assert invite_code and invite_code in created.url, created.url
    assert created.url in created.email_draft.body, "the draft carries the link"
    assert "Fabrikam Solutions AB (partner ID 1234567) invites your organisation" in created.email_draft.body
    ok("the partner creates an invitation: link, code and e-mail draft")

    # Internal methods are refused at the gateway.
    code, info, _, _ = refused(
        internal_pb2_grpc.TenantInternalServiceStub(gateway).CreateCustomerTenant,
        internal_pb2.CreateCustomerTenantRequest(),
        token,
    )
    assert (code, info.reason) == (grpc.StatusCode.PERMISSION_DENIED, "INTERNAL_METHOD"), (code, info)
    ok("the gateway refuses internal methods (ErrorInfo INTERNAL_METHOD)")

    # The customer came to partnerhub some other way: made on the tenants service itself.
    internal = internal_pb2_grpc.TenantInternalServiceStub(grpc.insecure_channel(args.tenants))
    def proven(method):
        return [("x-partnerhub-assertion", os.environ[f"PARTNERHUB_ASSERTION_{method}"])]

    made = internal.CreateCustomerTenant(
        metadata=proven("CREATE_CUSTOMER_TENANT"),
        request=internal_pb2.CreateCustomerTenantRequest(
            customer=tenants_pb2.Tenant(
                display_name="Skolan i Solna",
                cloud=type_pb2.CLOUD_WORLDWIDE,
                country_code="SE",
                domain_prefix="skolan",
                address=type_pb2.PostalAddress(address_lines=["Skolvägen 2"], locality="Solna"),
                contact=type_pb2.Contact(first_name="Maja", last_name="Ek", email="maja@skolan.example"),
            )
        )
    )
    customer = made.customer
    internal.ActivateTenant(
        internal_pb2.ActivateTenantRequest(tenant_id=customer.id), metadata=proven("ACTIVATE_TENANT")
    )
    ctoken = sign_in("admin@skolan.onpartnerhub.com", made.temporary_password, "Skola-2345-Solna")
    page = relationships.ListPartnersOfCustomer(
        relationships_pb2.ListPartnersOfCustomerRequest(customer_tenant_id=customer.id), metadata=bearer(ctoken)
    )
    assert list(page.partners) == [], "there is nothing here before any partner"
    ok("the customer's admin signs in; its partners page is empty")

    # The customer's global admin opens the link: who invites and what is asked.
    preview = invitations.PreviewInvitation(
        invitations_pb2.PreviewInvitationRequest(code=invite_code), metadata=bearer(ctoken)
    ).preview
    assert preview.inviter_display_name == "Fabrikam Solutions AB", preview
    assert preview.inviter_mpn_id == "1234567", preview
    assert preview.HasField("delegated_admin"), "delegated admin is asked"
    ok("the customer previews the invitation: Fabrikam asks for delegated admin")

    # Without the customer agreement there is no acceptance.
    code, info, _, message = refused(
        workflows.AcceptInvitation,
        gateway_pb2.AcceptInvitationRequest(code=invite_code, tenant_id=customer.id),
        ctoken,
    )
    assert (code, info.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "AGREEMENT_NOT_ACCEPTED"), (code, info)
    ok(f"acceptance without the agreement is refused (ErrorInfo AGREEMENT_NOT_ACCEPTED: {message})")

    accepted = workflows.AcceptInvitation(
        gateway_pb2.AcceptInvitationRequest(
            code=invite_code,
            tenant_id=customer.id,
            agreement_signer=type_pb2.Contact(first_name="Maja", last_name="Ek", email="maja@skolan.example"),
        ),
        metadata=bearer(ctoken),
    )
    assert accepted.HasField("agreement"), "the agreement was accepted in this call"
    assert [r.type for r in accepted.relationships] == [RESELLER, DELEGATED_ADMIN], accepted.relationships
    ok("the customer accepts with the agreement: reseller and delegated admin")

    # Seed 001's page: one row for Fabrikam, "Reseller & delegated admin".
    page = relationships.ListPartnersOfCustomer(
        relationships_pb2.ListPartnersOfCustomerRequest(customer_tenant_id=customer.id), metadata=bearer(ctoken)
    ).partners
    assert len(page) == 1, page
    assert (page[0].partner_tenant_id, page[0].partner_display_name) == (partner.id, "Fabrikam Solutions AB")
    assert list(page[0].types) == [RESELLER, DELEGATED_ADMIN], page[0]
    ok("the customer's partners page shows Fabrikam with reseller & delegated admin")

    # Fabrikam's admin agent acts in the customer's tenant.
    etoken = sign_in("erik@fabrikam.onpartnerhub.com", erik.temporary_password, "Agent-3456-Lund")
    users = tenants.ListUsers(tenants_pb2.ListUsersRequest(tenant_id=customer.id), metadata=bearer(etoken)).users
    assert "admin@skolan.onpartnerhub.com" in [u.user_name for u in users], users
    ok("Fabrikam's admin agent lists the customer's users")

    # The customer removes the admin roles: the reseller relationship stays, the access ends.
    removed = relationships.RemoveAdminRoles(
        relationships_pb2.RemoveAdminRolesRequest(customer_tenant_id=customer.id, partner_tenant_id=partner.id),
        metadata=bearer(ctoken),
    )
    assert [r.type for r in removed.removed] == [DELEGATED_ADMIN], removed
    assert [r.type for r in removed.remaining] == [RESELLER], removed
    code, info, _, _ = refused(tenants.ListUsers, tenants_pb2.ListUsersRequest(tenant_id=customer.id), etoken)
    assert (code, info.reason) == (grpc.StatusCode.PERMISSION_DENIED, "NO_ACCESS_TO_TENANT"), (code, info)
    ok("after RemoveAdminRoles the agent is refused (ErrorInfo NO_ACCESS_TO_TENANT)")

    # The customer can't end the reseller relationship: the reseller must.
    resellers = relationships.ListRelationships(
        relationships_pb2.ListRelationshipsRequest(client_tenant_id=customer.id, type=RESELLER),
        metadata=bearer(ctoken),
    ).relationships
    assert len(resellers) == 1, resellers
    code, info, _, _ = refused(
        relationships.TerminateRelationship,
        relationships_pb2.TerminateRelationshipRequest(tenant_id=customer.id, relationship_id=resellers[0].id),
        ctoken,
    )
    assert (code, info.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "RESELLER_RELATIONSHIP_CUSTOMER_CANNOT_END",
    ), (code, info)
    ok("the customer can't end the reseller relationship (ErrorInfo RESELLER_RELATIONSHIP_CUSTOMER_CANNOT_END)")
    print("python client: seed 004 passed", flush=True)


if __name__ == "__main__":
    main()  # a failed assertion or call prints its traceback and exits non-zero
