#!/usr/bin/env bash
# Generates the Go client from proto/ (protoc with protoc-gen-go and protoc-gen-go-grpc, as a Go
# team would) and compiles it together with a small program that uses it, offline: the Go
# toolchain and the protobuf, gRPC and googleapis Go packages come from Debian (GOPATH mode over
# /usr/share/gocode; installed with apt when missing and this runs as root, as on CI).
#
# This checks that the contract's `go_package` options and imports make a Go package that builds;
# the Python and Node clients (tests/clients/run.sh) run the seed stories against a live system.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."

DEBS=(golang-go protobuf-compiler protoc-gen-go protoc-gen-go-grpc golang-google-grpc-dev
  golang-google-protobuf-dev golang-google-genproto-dev)
if ! command -v go >/dev/null || ! command -v protoc-gen-go-grpc >/dev/null \
  || [ ! -d /usr/share/gocode/src/google.golang.org/genproto ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "the Go client check needs: apt-get install ${DEBS[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${DEBS[@]}" >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
module=github.com/partnerhub/partnerhub/gen/go
out="$work/src"
mkdir -p "$out"
mapfile -t protos < <(find proto/partnerhub -name '*.proto' | sort)
# google/protobuf/* come with protoc (/usr/include); google/api/* is vendored in proto/.
protoc -I proto -I /usr/include \
  --go_out="$out" --go_opt=paths=import \
  --go-grpc_out="$out" --go-grpc_opt=paths=import \
  "${protos[@]}"
echo "ok: generated the Go client from ${#protos[@]} proto files ($(find "$out" -name '*.go' | wc -l) files)"

# A program that uses it: a typed client for every public service, a request with a field
# behaviour option read back through the descriptors, and an enum by its name.
mkdir -p "$out/partnerhub-check"
cat > "$out/partnerhub-check/main.go" <<'GO'
package main

import (
	"fmt"

	gatewayv1 "github.com/partnerhub/partnerhub/gen/go/partnerhub/gateway/v1"
	invitationsv1 "github.com/partnerhub/partnerhub/gen/go/partnerhub/invitations/v1"
	relationshipsv1 "github.com/partnerhub/partnerhub/gen/go/partnerhub/relationships/v1"
	subscriptionsv1 "github.com/partnerhub/partnerhub/gen/go/partnerhub/subscriptions/v1"
	supportv1 "github.com/partnerhub/partnerhub/gen/go/partnerhub/support/v1"
	tenantsv1 "github.com/partnerhub/partnerhub/gen/go/partnerhub/tenants/v1"
	typev1 "github.com/partnerhub/partnerhub/gen/go/partnerhub/type/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	_ "google.golang.org/protobuf/types/descriptorpb" // FieldOptions, for Options()
)

// fieldBehaviour reads google.api.field_behavior (field 1052 of FieldOptions) from the raw
// options: Debian's googleapis Go package predates the protobuf APIv2 extension types.
func fieldBehaviour(options proto.Message) []uint64 {
	raw, err := proto.Marshal(options)
	if err != nil {
		panic(err)
	}
	var found []uint64
	for len(raw) > 0 {
		number, kind, n := protowire.ConsumeTag(raw)
		raw = raw[n:]
		m := protowire.ConsumeFieldValue(number, kind, raw)
		if number == 1052 && kind == protowire.VarintType {
			v, _ := protowire.ConsumeVarint(raw)
			found = append(found, v)
		}
		raw = raw[m:]
	}
	return found
}

func main() {
	var conn *grpc.ClientConn
	_ = gatewayv1.NewAuthServiceClient(conn)
	_ = gatewayv1.NewWorkflowServiceClient(conn)
	_ = tenantsv1.NewTenantServiceClient(conn)
	_ = subscriptionsv1.NewSubscriptionServiceClient(conn)
	_ = relationshipsv1.NewRelationshipServiceClient(conn)
	_ = invitationsv1.NewInvitationServiceClient(conn)
	_ = supportv1.NewSupportServiceClient(conn)
	fields := (&tenantsv1.GetTenantRequest{}).ProtoReflect().Descriptor().Fields()
	behaviour := fieldBehaviour(fields.ByName("tenant_id").Options())
	const required = 2 // google.api.FieldBehavior.REQUIRED
	if len(behaviour) != 1 || behaviour[0] != required {
		panic(fmt.Sprintf("GetTenantRequest.tenant_id: field_behavior %v, want [REQUIRED]", behaviour))
	}
	fmt.Println("ok: the Go client builds and runs:", typev1.Role_ROLE_GLOBAL_ADMIN, "- GetTenantRequest.tenant_id is REQUIRED")
}
GO
(cd "$out/partnerhub-check" && GOPATH="$work:/usr/share/gocode" GO111MODULE=off GOFLAGS= \
  GOCACHE="$work/cache" go run .)
