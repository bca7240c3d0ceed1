#!/usr/bin/env bash
# Runs seed 004 with clients in other languages, made from proto/ the way a client team makes
# them, against `partnerhub dev`:
#   - Python: code generated now by grpcio-tools (protoc) into a temporary folder;
#   - Node: @grpc/grpc-js with proto/ loaded at run time by @grpc/proto-loader.
# Each client reads ErrorInfo reasons (and a BadRequest) from the status details.
#
# Pinned tools are installed once into ${XDG_CACHE_HOME:-~/.cache}/partnerhub/clients (a venv
# and an npm prefix, named after the pins), so the clone stays clean and reruns are fast. Each
# client gets its own fresh `partnerhub dev`, with data in a temporary folder, on ports away from
# the defaults (gateway 127.0.0.1:26051 and 26071), so a dev system already running is left
# alone; and below Linux's ephemeral range (32768-60999), where an outgoing connection of
# anything else on the machine may hold a port for a moment.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

PYTHON="${PYTHON:-python3}"
PY_PACKAGES=(grpcio==1.85.1 grpcio-tools==1.85.1 grpcio-status==1.85.1
  googleapis-common-protos==1.76.0 protobuf==7.36.2)
NODE_PACKAGES=(@grpc/grpc-js@1.14.7 @grpc/proto-loader@0.8.1 google-proto-files@6.0.1)
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/partnerhub/clients"

key() { sha256sum | cut -c1-12; }
PY_ENV="$CACHE/python-$({ "$PYTHON" -c 'import sys; print(sys.version)'; printf '%s\n' "${PY_PACKAGES[@]}"; } | key)"
NODE_DIR="$CACHE/node-$({ node --version; printf '%s\n' "${NODE_PACKAGES[@]}"; } | key)"

work=$(mktemp -d)
dev_pid=""
tmp="" # an install in progress, removed if it fails
cleanup() {
  if [ -n "$dev_pid" ]; then
    kill "$dev_pid" 2>/dev/null || true
    wait "$dev_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
  if [ -n "$tmp" ]; then rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tools, installed into a folder beside the final one and moved in when complete -------------
mkdir -p "$CACHE"
if [ ! -x "$PY_ENV/bin/python" ]; then
  echo "installing ${PY_PACKAGES[*]} into $PY_ENV"
  tmp="$PY_ENV.tmp.$$"
  rm -rf "$tmp"
  "$PYTHON" -m venv "$tmp"
  "$tmp/bin/python" -m pip install --quiet --disable-pip-version-check "${PY_PACKAGES[@]}"
  mv -T "$tmp" "$PY_ENV" 2>/dev/null || rm -rf "$tmp" # another run got there first
  tmp=""
fi
if [ ! -d "$NODE_DIR/node_modules/@grpc/grpc-js" ]; then
  echo "installing ${NODE_PACKAGES[*]} into $NODE_DIR"
  tmp="$NODE_DIR.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$tmp" "${NODE_PACKAGES[@]}"
  mv -T "$tmp" "$NODE_DIR" 2>/dev/null || rm -rf "$tmp"
  tmp=""
fi
echo "ok: tools: python $("$PY_ENV/bin/python" -c 'import grpc, grpc_tools, google.protobuf as p; print("grpcio", grpc.__version__, "protobuf", p.__version__)'), node $(node --version) with ${NODE_PACKAGES[*]}"

# --- the Python client, generated from every partnerhub file in proto/ (they import each other
# by paths relative to proto/, as buf.yaml's module root says; google/protobuf/* come with
# grpcio-tools, and google/api/field_behavior_pb2 with googleapis-common-protos, so the vendored
# proto/google/ is not generated again) --
mapfile -t protos < <(find proto/partnerhub -name '*.proto' | sort)
gen="$work/python"
mkdir -p "$gen"
"$PY_ENV/bin/python" -m grpc_tools.protoc -I proto \
  --python_out="$gen" --pyi_out="$gen" --grpc_python_out="$gen" "${protos[@]}"
echo "ok: generated the Python client from ${#protos[@]} proto files ($(find "$gen" -name '*.py' | wc -l) modules)"

# --- partnerhub dev ---------------------------------------------------------------------------
cargo build --quiet
bin="${CARGO_TARGET_DIR:-target}/debug/partnerhub"
metrics_flag=""
if "$bin" dev --help | grep -q -- '--first-metrics-port'; then
  metrics_flag=yes
fi

# start_dev NAME GATEWAY_PORT FIRST_SERVICE_PORT FIRST_METRICS_PORT: starts a fresh system and
# sets dev_pid, dev_log and operator_token.
start_dev() {
  local name=$1 data="$work/$1/data"
  mkdir -p "$data"
  dev_log="$work/$name/dev.log"
  assertions=()
  local args=(dev --data-dir "$data" --gateway-addr "127.0.0.1:$2" --first-service-port "$3")
  if [ -n "$metrics_flag" ]; then
    args+=(--first-metrics-port "$4")
  fi
  NO_COLOR=1 "$bin" "${args[@]}" >"$dev_log" 2>&1 &
  dev_pid=$!
  # Ready when the gateway's grpc.health.v1.Health/Check answers SERVING (bytes 08 01).
  if ! "$PY_ENV/bin/python" - "127.0.0.1:$2" "$dev_pid" <<'EOF'; then
import os, sys, time, grpc
address, pid = sys.argv[1], int(sys.argv[2])
check = grpc.insecure_channel(address).unary_unary("/grpc.health.v1.Health/Check")
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("partnerhub dev exited")
    try:
        if check(b"", timeout=1) == b"\x08\x01":
            sys.exit(0)
    except grpc.RpcError:
        pass
    time.sleep(0.1)
sys.exit(f"partnerhub dev did not answer on {address} within 60 s")
EOF
    cat "$dev_log" >&2
    exit 1
  fi
  operator_token=$("$bin" token --operator --data-dir "$data")
  # The customer is made straight on the tenants service, which answers only calls proven with
  # the internal key: an assertion per method, good for ten minutes (the most a service takes).
  local method
  for method in CreateCustomerTenant ActivateTenant; do
    assertions+=("$("$bin" internal-credential --data-dir "$data" --seconds 600 \
      --method "partnerhub.tenants.v1.TenantInternalService/$method")")
  done
}

stop_dev() {
  kill "$dev_pid" 2>/dev/null || true
  wait "$dev_pid" 2>/dev/null || true
  dev_pid=""
}

passed=0
failed=0
# run_client NAME COMMAND...: the client's outcome, with the system's log when it failed.
run_client() {
  local name=$1
  shift
  if PARTNERHUB_OPERATOR_TOKEN="$operator_token" \
    PARTNERHUB_ASSERTION_CREATE_CUSTOMER_TENANT="${assertions[0]}" \
    PARTNERHUB_ASSERTION_ACTIVATE_TENANT="${assertions[1]}" "$@"; then
    echo "ok: the $name client ran seed 004"
    passed=$((passed + 1))
  else
    echo "FAILED: the $name client (partnerhub dev log, last 30 lines:)"
    tail -n 30 "$dev_log"
    failed=$((failed + 1))
  fi
}

start_dev python 26051 26052 26056
run_client python env PYTHONPATH="$gen" "$PY_ENV/bin/python" tests/clients/python/seed004.py \
  --gateway 127.0.0.1:26051 --tenants 127.0.0.1:26052
stop_dev

start_dev node 26071 26072 26076
run_client node env NODE_PATH="$NODE_DIR/node_modules" node tests/clients/node/seed004.js \
  --gateway 127.0.0.1:26071 --tenants 127.0.0.1:26072
stop_dev

echo "clients: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
