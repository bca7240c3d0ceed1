// Seed 004 with a Node client: @grpc/grpc-js, with proto/ loaded at run time by @grpc/proto-loader.
//
// A partner asks a customer for a reseller relationship with delegated admin; the customer is
// refused until it accepts the customer agreement, then sees the partner on its partners page; the
// partner's admin agent acts in the customer's tenant until the customer removes the admin roles.
// The same story as the README's walkthrough and tests/tests/seed_004.rs, through the gateway.
//
//   NODE_PATH=<node_modules with @grpc/grpc-js, @grpc/proto-loader, google-proto-files> \
//   PARTNERHUB_OPERATOR_TOKEN=<token> \
//     node seed004.js --gateway 127.0.0.1:50051 --tenants 127.0.0.1:50052
//
// `--tenants` is the tenants service itself (loopback only): the story's customer is made there,
// as in the README, because it came to partnerhub some other way than through the partner. The
// service answers only calls proven with the internal key: PARTNERHUB_ASSERTION_CREATE_CUSTOMER_TENANT
// and PARTNERHUB_ASSERTION_ACTIVATE_TENANT hold `partnerhub internal-credential`'s assertions.
// tests/clients/run.sh installs the packages, starts `partnerhub dev` and runs this.
'use strict';

const assert = require('node:assert/strict');
const path = require('node:path');
const fs = require('node:fs');
const { parseArgs } = require('node:util');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const { values: args } = parseArgs({
  options: {
    gateway: { type: 'string', default: '127.0.0.1:50051' },
    tenants: { type: 'string', default: '127.0.0.1:50052' },
  },
});
const operator = process.env.PARTNERHUB_OPERATOR_TOKEN;
assert.ok(operator, 'PARTNERHUB_OPERATOR_TOKEN is not set');

// Every .proto under proto/, names relative to it, as protoc sees them.
const PROTO_ROOT = path.resolve(__dirname, '../../../proto');
const protoFiles = fs
  .readdirSync(PROTO_ROOT, { recursive: true })
  .filter((f) => f.endsWith('.proto'))
  .sort();
// keepCase: fields keep their proto names (tenant_id), as in the README's grpcurl examples;
// enums: String gives and takes enum value names ("RELATIONSHIP_TYPE_RESELLER").
const LOADER_OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };
const proto = grpc.loadPackageDefinition(
  protoLoader.loadSync(protoFiles, { ...LOADER_OPTIONS, includeDirs: [PROTO_ROOT] }),
).partnerhub;

// google.rpc.Status and its detail messages, from the google-proto-files package.
const GOOGLE_PROTOS = path.dirname(require.resolve('google-proto-files/package.json'));
const rpcRoot = new protobuf.Root();
rpcRoot.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(GOOGLE_PROTOS, target));
rpcRoot.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto'], { keepCase: true });
const Status = rpcRoot.lookupType('google.rpc.Status');

function ok(what) {
  console.log(`ok: node: ${what}`);
}

function bearer(token) {
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

// A unary call as a promise: call(client, 'Method', request, token).
function call(client, method, request, token) {
  return new Promise((resolve, reject) => {
    client[method](request, bearer(token), (err, response) => (err ? reject(err) : resolve(response)));
  });
}

// The google.rpc.Status in an error's grpc-status-details-bin, with its details unpacked by type:
// { code, message, details: { 'google.rpc.ErrorInfo': {...}, 'google.rpc.BadRequest': {...} } }.
function statusOf(err) {
  const [bin] = err.metadata.get('grpc-status-details-bin');
  assert.ok(bin, `${grpc.status[err.code]} without status details: ${err.details}`);
  const status = Status.decode(bin);
  const details = {};
  for (const any of status.details) {
    const name = any.type_url.slice(any.type_url.lastIndexOf('/') + 1);
    details[name] = rpcRoot.lookupType(name).toObject(rpcRoot.lookupType(name).decode(any.value));
  }
  return { code: status.code, message: status.message, details };
}

// A call that must fail: resolves to { code: 'FAILED_PRECONDITION', info, badRequest, message }.
async function refused(client, method, request, token) {
  let err;
  try {
    await call(client, method, request, token);
  } catch (e) {
    err = e;
  }
  assert.ok(err, `${method} was expected to fail and succeeded`);
  const status = statusOf(err);
  assert.equal(status.code, err.code, 'the Status in the details has the call\'s code');
  const info = status.details['google.rpc.ErrorInfo'];
  assert.ok(info, `no ErrorInfo in ${JSON.stringify(status)}`);
  return { code: grpc.status[err.code], info, badRequest: status.details['google.rpc.BadRequest'], message: err.details };
}

async function main() {
  const insecure = grpc.credentials.createInsecure();
  const auth = new proto.gateway.v1.AuthService(args.gateway, insecure);
  const workflows = new proto.gateway.v1.WorkflowService(args.gateway, insecure);
  const tenants = new proto.tenants.v1.TenantService(args.gateway, insecure);
  const invitations = new proto.invitations.v1.InvitationService(args.gateway, insecure);
  const relationships = new proto.relationships.v1.RelationshipService(args.gateway, insecure);

  // Signs in with a temporary password and changes it; returns the full token.
  async function signIn(user_name, password, new_password) {
    const signedIn = await call(auth, 'SignIn', { user_name, password });
    assert.equal(signedIn.password_change_required, true, 'a temporary password must be changed');
    const changed = await call(auth, 'ChangePassword', { current_password: password, new_password }, signedIn.access_token);
    return changed.access_token;
  }

  // The operator enrols the partner; the answer holds its first admin and temporary password.
  const enrolled = await call(
    tenants,
    'CreatePartner',
    {
      partner: {
        display_name: 'Fabrikam Solutions AB',
        cloud: 'CLOUD_WORLDWIDE',
        country_code: 'SE',
        domain_prefix: 'fabrikam',
        address: { address_lines: ['Drottninggatan 1'], locality: 'Stockholm', postal_code: '111 51' },
        contact: { first_name: 'Ann', last_name: 'Berg', email: 'ann@fabrikam.example' },
        partner: {
          mpn_id: '1234567',
          partner_types: ['PARTNER_TYPE_INDIRECT_PROVIDER'],
          listed: true,
          description: 'Cloud services for Nordic schools',
        },
      },
      request_id: '0b6f3c52-3f0e-4c41-9d7a-2f4a61a3c001',
    },
    operator,
  );
  const partner = enrolled.partner;
  assert.equal(partner.kind, 'KIND_PARTNER');
  assert.equal(enrolled.admin_user.user_name, 'admin@fabrikam.onpartnerhub.com');
  assert.ok(enrolled.temporary_password);
  ok('the operator enrols Fabrikam with its first admin');

  // The temporary password only allows ChangePassword.
  const first = await call(auth, 'SignIn', { user_name: 'admin@fabrikam.onpartnerhub.com', password: enrolled.temporary_password });
  let r = await refused(tenants, 'GetTenant', { tenant_id: partner.id }, first.access_token);
  assert.deepEqual([r.code, r.info.reason], ['FAILED_PRECONDITION', 'PASSWORD_CHANGE_REQUIRED']);
  const token = (
    await call(auth, 'ChangePassword', { current_password: enrolled.temporary_password, new_password: 'Fika-1234-Stockholm' }, first.access_token)
  ).access_token;
  const { tenant } = await call(tenants, 'GetTenant', { tenant_id: partner.id }, token);
  assert.equal(tenant.display_name, 'Fabrikam Solutions AB');
  assert.equal(tenant.partner.mpn_id, '1234567');
  ok('a temporary password only allows ChangePassword (ErrorInfo PASSWORD_CHANGE_REQUIRED), then GetTenant works');

  // An admin agent, who will act in the customer's tenant once delegated admin exists.
  const erik = await call(
    tenants,
    'CreateUser',
    { tenant_id: partner.id, user: { user_name: 'erik', display_name: 'Erik Lind', roles: ['ROLE_ADMIN_AGENT'] } },
    token,
  );
  assert.equal(erik.user.user_name, 'erik@fabrikam.onpartnerhub.com');
  ok("the partner's admin creates the admin agent erik@fabrikam.onpartnerhub.com");

  // Every bad field is named in a google.rpc.BadRequest.
  r = await refused(tenants, 'CreateUser', { tenant_id: partner.id, user: { user_name: 'not valid', roles: ['ROLE_HELPDESK_ADMIN'] } }, token);
  assert.equal(r.code, 'INVALID_ARGUMENT');
  assert.deepEqual([r.info.reason, r.info.domain], ['INVALID_ARGUMENT', 'tenants.partnerhub']);
  assert.ok(r.badRequest, `no BadRequest in ${r.message}`);
  const fields = r.badRequest.field_violations.map((v) => v.field);
  assert.ok(fields.includes('user.user_name') && fields.includes('user.display_name'), fields.join(', '));
  ok(`a bad CreateUser is INVALID_ARGUMENT with a BadRequest naming ${fields.join(', ')}`);

  // The partner asks for a reseller relationship with delegated admin (no roles named).
  const created = await call(
    invitations,
    'CreateInvitation',
    {
      invitation: {
        kind: 'INVITATION_KIND_RESELLER_RELATIONSHIP',
        inviter_tenant_id: partner.id,
        invitee_email: 'maja@skolan.example',
        delegated_admin: {},
      },
    },
    token,
  );
  const code = created.code;
  assert.ok(code && created.url.includes(code), created.url);
  assert.ok(created.email_draft.body.includes(created.url), 'the draft carries the link');
  assert.ok(created.email_draft.body.includes('Fabrikam Solutions AB (partner ID 1234567) invites your organisation'));
  ok('the partner creates an invitation: link, code and e-mail draft');

  // Internal methods are refused at the gateway.
  const internalAtGateway = new proto.tenants.v1.TenantInternalService(args.gateway, insecure);
  r = await refused(internalAtGateway, 'CreateCustomerTenant', {}, token);
  assert.deepEqual([r.code, r.info.reason], ['PERMISSION_DENIED', 'INTERNAL_METHOD']);
  ok('the gateway refuses internal methods (ErrorInfo INTERNAL_METHOD)');

  // The customer came to partnerhub some other way: made on the tenants service itself.
  const internal = new proto.tenants.v1.TenantInternalService(args.tenants, insecure);
  // A unary call straight to the service, with its assertion.
  const proven = (method, request, assertion) =>
    new Promise((resolve, reject) => {
      const metadata = new grpc.Metadata();
      metadata.set('x-partnerhub-assertion', process.env[assertion]);
      internal[method](request, metadata, (err, response) => (err ? reject(err) : resolve(response)));
    });
  const made = await proven('CreateCustomerTenant', {
    customer: {
      display_name: 'Skolan i Solna',
      cloud: 'CLOUD_WORLDWIDE',
      country_code: 'SE',
      domain_prefix: 'skolan',
      address: { address_lines: ['Skolvägen 2'], locality: 'Solna' },
      contact: { first_name: 'Maja', last_name: 'Ek', email: 'maja@skolan.example' },
    },
  }, 'PARTNERHUB_ASSERTION_CREATE_CUSTOMER_TENANT');
  const customer = made.customer;
  await proven('ActivateTenant', { tenant_id: customer.id }, 'PARTNERHUB_ASSERTION_ACTIVATE_TENANT');
  const ctoken = await signIn('admin@skolan.onpartnerhub.com', made.temporary_password, 'Skola-2345-Solna');
  let page = (await call(relationships, 'ListPartnersOfCustomer', { customer_tenant_id: customer.id }, ctoken)).partners;
  assert.deepEqual(page, [], 'there is nothing here before any partner');
  ok("the customer's admin signs in; its partners page is empty");

  // The customer's global admin opens the link: who invites and what is asked.
  const { preview } = await call(invitations, 'PreviewInvitation', { code }, ctoken);
  assert.equal(preview.inviter_display_name, 'Fabrikam Solutions AB');
  assert.equal(preview.inviter_mpn_id, '1234567');
  assert.ok(preview.delegated_admin, 'delegated admin is asked');
  ok('the customer previews the invitation: Fabrikam asks for delegated admin');

  // Without the customer agreement there is no acceptance.
  r = await refused(workflows, 'AcceptInvitation', { code, tenant_id: customer.id }, ctoken);
  assert.deepEqual([r.code, r.info.reason], ['FAILED_PRECONDITION', 'AGREEMENT_NOT_ACCEPTED']);
  ok(`acceptance without the agreement is refused (ErrorInfo AGREEMENT_NOT_ACCEPTED: ${r.message})`);

  const accepted = await call(
    workflows,
    'AcceptInvitation',
    {
      code,
      tenant_id: customer.id,
      agreement_signer: { first_name: 'Maja', last_name: 'Ek', email: 'maja@skolan.example' },
    },
    ctoken,
  );
  assert.ok(accepted.agreement, 'the agreement was accepted in this call');
  assert.deepEqual(
    accepted.relationships.map((x) => x.type),
    ['RELATIONSHIP_TYPE_RESELLER', 'RELATIONSHIP_TYPE_DELEGATED_ADMIN'],
  );
  ok('the customer accepts with the agreement: reseller and delegated admin');

  // Seed 001's page: one row for Fabrikam, "Reseller & delegated admin".
  page = (await call(relationships, 'ListPartnersOfCustomer', { customer_tenant_id: customer.id }, ctoken)).partners;
  assert.equal(page.length, 1);
  assert.deepEqual([page[0].partner_tenant_id, page[0].partner_display_name], [partner.id, 'Fabrikam Solutions AB']);
  assert.deepEqual(page[0].types, ['RELATIONSHIP_TYPE_RESELLER', 'RELATIONSHIP_TYPE_DELEGATED_ADMIN']);
  ok("the customer's partners page shows Fabrikam with reseller & delegated admin");

  // Fabrikam's admin agent acts in the customer's tenant.
  const etoken = await signIn('erik@fabrikam.onpartnerhub.com', erik.temporary_password, 'Agent-3456-Lund');
  const { users } = await call(tenants, 'ListUsers', { tenant_id: customer.id }, etoken);
  assert.ok(users.some((u) => u.user_name === 'admin@skolan.onpartnerhub.com'), JSON.stringify(users));
  ok("Fabrikam's admin agent lists the customer's users");

  // The customer removes the admin roles: the reseller relationship stays, the access ends.
  const removed = await call(relationships, 'RemoveAdminRoles', { customer_tenant_id: customer.id, partner_tenant_id: partner.id }, ctoken);
  assert.deepEqual(removed.removed.map((x) => x.type), ['RELATIONSHIP_TYPE_DELEGATED_ADMIN']);
  assert.deepEqual(removed.remaining.map((x) => x.type), ['RELATIONSHIP_TYPE_RESELLER']);
  r = await refused(tenants, 'ListUsers', { tenant_id: customer.id }, etoken);
  assert.deepEqual([r.code, r.info.reason], ['PERMISSION_DENIED', 'NO_ACCESS_TO_TENANT']);
  ok('after RemoveAdminRoles the agent is refused (ErrorInfo NO_ACCESS_TO_TENANT)');

  // The customer can't end the reseller relationship: the reseller must.
  const resellers = (
    await call(relationships, 'ListRelationships', { client_tenant_id: customer.id, type: 'RELATIONSHIP_TYPE_RESELLER' }, ctoken)
  ).relationships;
  assert.equal(resellers.length, 1);
  r = await refused(relationships, 'TerminateRelationship', { tenant_id: customer.id, relationship_id: resellers[0].id }, ctoken);
  assert.deepEqual([r.code, r.info.reason], ['FAILED_PRECONDITION', 'RESELLER_RELATIONSHIP_CUSTOMER_CANNOT_END']);
  ok("the customer can't end the reseller relationship (ErrorInfo RESELLER_RELATIONSHIP_CUSTOMER_CANNOT_END)");

  for (const client of [auth, workflows, tenants, invitations, relationships, internalAtGateway, internal]) client.close();
  console.log('node client: seed 004 passed');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
