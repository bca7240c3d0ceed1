#!/usr/bin/env python3
"""Checks rendered partnerhub manifests (the output of `kubectl kustomize`), as deploy/validate.sh
runs it:

1. every object against the Kubernetes JSON schemas bundled in PyPI's kubernetes-validate, in
   strict mode (a field the schema doesn't know is an error), for each Kubernetes version asked;
   an object the validator has no schema for is an error too, not a warning;
2. the promises deploy/README.md makes: one Deployment and Service per server (headless for the
   four services), gRPC startup and liveness probes on health service "liveness" and readiness
   probes on "" on the server's port, requests and limits, the "restricted" Pod
   Security settings, the database URL from its Secret, the gateway's key from its Secret, the
   gateway autoscaled, and NetworkPolicies under which only the gateway's gRPC port is open and
   each service takes calls only from the servers that call it (as src/system.rs wires them).

    check_manifests.py [-k 1.30.0 ...] [--complete] RENDERED.yaml...
    check_manifests.py --placeholders DIR   # write stand-ins for missing generator input files

--complete is for overlays (something one applies as is): every namespaced object has a
namespace, the Secrets are there with their keys, and images carry a tag other than latest.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import yaml

# The servers, their gRPC ports (src/system.rs: gateway 50051, services 50052..50055).
SERVERS = {
    "gateway": 50051,
    "tenants": 50052,
    "subscriptions": 50053,
    "relationships": 50054,
    "invitations": 50055,
}
# Who calls whom (src/system.rs: `backends` for the gateway, `service_server`'s Deps).
CALLERS = {
    "gateway": set(),  # public: open to everyone on its gRPC port instead
    "tenants": {"gateway", "subscriptions", "relationships", "invitations"},
    "subscriptions": {"gateway", "invitations"},
    "relationships": {"gateway", "subscriptions"},
    "invitations": {"gateway"},
}
METRICS_PORT = 9464
PART_OF = ("app.kubernetes.io/part-of", "partnerhub")
DATABASE_SECRET = ("partnerhub-database", "url")
SIGNING_KEY_SECRET = ("partnerhub-signing-key", "signing-key.pem")
# The key file each of these servers reads: its setting and the Secret (name, key) it comes from.
# The tenants and invitations services derive what they hand out from keys of their own.
KEY_FILES = {
    "gateway": ("PARTNERHUB_SIGNING_KEY", SIGNING_KEY_SECRET),
    "tenants": ("PARTNERHUB_TENANTS_SECRET_KEY",
                ("partnerhub-tenants-secret-key", "tenants-secret.key")),
    "invitations": ("PARTNERHUB_INVITATIONS_SECRET_KEY",
                    ("partnerhub-invitations-secret-key", "invitations-secret.key")),
}
# The key every server reads to prove its calls to the services (and check those it takes).
INTERNAL_KEY = ("PARTNERHUB_INTERNAL_SECRET_KEY",
                ("partnerhub-internal-secret-key", "internal-secret.key"))
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PriorityClass",
                  "StorageClass", "CustomResourceDefinition", "PersistentVolume"}


class Report:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: {message}")


def name_of(obj: dict) -> str:
    return f"{obj.get('kind', '?')}/{(obj.get('metadata') or {}).get('name', '?')}"


# ---------------------------------------------------------------------------------------------
# 1. Schemas


def validate_schemas(objects: list[dict], versions: list[str], report: Report, where: str) -> None:
    import kubernetes_validate  # the venv deploy/validate.sh makes has it

    for obj in objects:
        for version in versions:
            label = f"{where}: {name_of(obj)} (Kubernetes {version})"
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                path = ".".join(str(p) for p in e.path) or "(top)"
                report.error(label, f"schema: {path}: {e.message}")
            except kubernetes_validate.SchemaNotFoundError as e:
                report.error(label, f"no schema, so not validated: {e.message}")
            except kubernetes_validate.VersionNotSupportedError as e:
                report.error(label, e.message)
            except Exception as e:  # noqa: BLE001 - anything else is a failure to validate
                report.error(label, f"could not be validated: {type(e).__name__}: {e}")


# ---------------------------------------------------------------------------------------------
# 2. Invariants


def selector_matches(selector: dict | None, labels: dict) -> bool:
    """A Kubernetes label selector (matchLabels and matchExpressions) against a label set."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


CPU = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")
MEMORY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
MEMORY_UNITS = {None: 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
                "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity(resource: str, value) -> float | None:
    text = str(value)
    if resource == "cpu":
        m = CPU.match(text)
        return None if not m else float(m.group(1)) / (1000 if m.group(2) else 1)
    m = MEMORY.match(text)
    return None if not m else float(m.group(1)) * MEMORY_UNITS[m.group(2)]


def secret_name_ok(actual: str | None, base: str) -> bool:
    # Overlays' secretGenerator adds a hash suffix (and kustomize rewrites the references).
    return actual is not None and (actual == base or re.fullmatch(re.escape(base) + r"-[a-z0-9]{10}", actual) is not None)


def check_container(server: str, pod: dict, container: dict, report: Report, where: str) -> None:
    port = SERVERS[server]
    if container.get("args") != ["serve", server]:
        report.error(where, f"args must be [serve, {server}], not {container.get('args')}")
    if not container.get("image"):
        report.error(where, "no image")

    ports = {p.get("name"): p.get("containerPort") for p in container.get("ports") or []}
    if ports.get("grpc") != port:
        report.error(where, f"needs a container port named grpc = {port}")
    if ports.get("metrics") != METRICS_PORT:
        report.error(where, f"needs a container port named metrics = {METRICS_PORT}")

    env = {e["name"]: e for e in container.get("env") or []}
    listen = env.get("PARTNERHUB_LISTEN", {}).get("value")
    if listen != f"0.0.0.0:{port}":
        report.error(where, f"PARTNERHUB_LISTEN must be 0.0.0.0:{port}, not {listen!r}")
    ref = ((env.get("PARTNERHUB_DATABASE_URL") or {}).get("valueFrom") or {}).get("secretKeyRef") or {}
    if not secret_name_ok(ref.get("name"), DATABASE_SECRET[0]) or ref.get("key") != DATABASE_SECRET[1]:
        report.error(where, "PARTNERHUB_DATABASE_URL must come from the Secret "
                     f"{DATABASE_SECRET[0]}, key {DATABASE_SECRET[1]}")
    if ref.get("optional"):
        report.error(where, "the database Secret must not be optional")

    # Readiness asks the overall health (""), which follows what the server needs; startup and
    # liveness ask "liveness", SERVING while the process runs (a database outage restarts nothing).
    for kind, service in (("startupProbe", "liveness"), ("readinessProbe", ""), ("livenessProbe", "liveness")):
        probe = container.get(kind)
        grpc = (probe or {}).get("grpc")
        if not grpc:
            report.error(where, f"{kind} must be a grpc probe (grpc.health.v1)")
        elif grpc.get("port") != port or grpc.get("service", "") != service:
            report.error(where, f"{kind} must ask health service {service!r} on port {port}")

    resources = container.get("resources") or {}
    for resource in ("cpu", "memory"):
        request = (resources.get("requests") or {}).get(resource)
        limit = (resources.get("limits") or {}).get(resource)
        if request is None or limit is None:
            report.error(where, f"needs a {resource} request and limit")
            continue
        r, lim = quantity(resource, request), quantity(resource, limit)
        if r is None or lim is None:
            report.error(where, f"can't read the {resource} quantities {request!r}, {limit!r}")
        elif r > lim:
            report.error(where, f"{resource} request {request} is above its limit {limit}")

    # The "restricted" Pod Security Standard, and a read-only root filesystem.
    pod_sc = pod.get("securityContext") or {}
    sc = container.get("securityContext") or {}
    if not (sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))):
        report.error(where, "must run as non-root (runAsNonRoot)")
    if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
        report.error(where, "runAsUser must not be 0")
    seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
    if seccomp not in ("RuntimeDefault", "Localhost"):
        report.error(where, "needs seccompProfile RuntimeDefault")
    if sc.get("allowPrivilegeEscalation") is not False:
        report.error(where, "allowPrivilegeEscalation must be false")
    if sc.get("readOnlyRootFilesystem") is not True:
        report.error(where, "readOnlyRootFilesystem must be true")
    if sc.get("privileged"):
        report.error(where, "must not be privileged")
    caps = sc.get("capabilities") or {}
    if "ALL" not in (caps.get("drop") or []):
        report.error(where, "must drop ALL capabilities")
    if caps.get("add"):
        report.error(where, f"adds capabilities {caps['add']}")


def check_deployments(objects: list[dict], complete: bool, report: Report, where: str) -> dict:
    """Returns server -> pod labels."""
    deployments = {o["metadata"]["name"]: o for o in objects if o.get("kind") == "Deployment"}
    if set(deployments) != set(SERVERS):
        report.error(where, f"Deployments must be exactly {sorted(SERVERS)}, not {sorted(deployments)}")
    config_maps = {o["metadata"]["name"] for o in objects if o.get("kind") == "ConfigMap"}
    pods = {}
    for server, deployment in deployments.items():
        at = f"{where}: Deployment/{server}"
        if server not in SERVERS:
            continue
        spec = deployment.get("spec") or {}
        template = spec.get("template") or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        pods[server] = labels
        if labels.get("app.kubernetes.io/name") != server or labels.get(PART_OF[0]) != PART_OF[1]:
            report.error(at, f"pod labels need app.kubernetes.io/name={server} and {PART_OF[0]}={PART_OF[1]}")
        if not selector_matches(spec.get("selector"), labels):
            report.error(at, "its selector does not match its pods")
        annotations = (template.get("metadata") or {}).get("annotations") or {}
        expected = {"prometheus.io/scrape": "true", "prometheus.io/port": str(METRICS_PORT),
                    "prometheus.io/path": "/metrics"}
        for key, value in expected.items():
            if annotations.get(key) != value:
                report.error(at, f"pod annotation {key} must be {value!r}")
        pod = template.get("spec") or {}
        containers = pod.get("containers") or []
        if len(containers) != 1:
            report.error(at, "needs exactly one container")
        for container in containers:
            check_container(server, pod, container, report, f"{at} container {container.get('name')}")
            if complete:
                image = container.get("image") or ""
                tag = image.rsplit("/", 1)[-1]
                if "@" not in image and (":" not in tag or tag.endswith(":latest")):
                    report.error(at, f"image {image!r} needs a tag other than latest (or a digest)")
            for source in container.get("envFrom") or []:
                name = (source.get("configMapRef") or {}).get("name")
                if name and name not in config_maps:
                    report.error(at, f"envFrom ConfigMap {name} is not in the render")
        if server == "gateway":
            if "replicas" in spec:
                report.error(at, "must not set replicas: the HorizontalPodAutoscaler owns them")
        elif (spec.get("replicas") or 1) < 1:
            report.error(at, "needs at least one replica")
        if server in KEY_FILES:
            check_key_file(pod, *KEY_FILES[server], report, at)
        check_key_file(pod, *INTERNAL_KEY, report, at)
    return pods


def check_key_file(pod: dict, setting: str, secret_key: tuple[str, str], report: Report,
                   at: str) -> None:
    """The server's key file (`setting`) is the key `secret_key[1]` of the Secret
    `secret_key[0]`, mounted as a file."""
    container = (pod.get("containers") or [{}])[0]
    env = {e["name"]: e.get("value") for e in container.get("env") or []}
    path = env.get(setting)
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    for mount in container.get("volumeMounts") or []:
        secret = (volumes.get(mount["name"]) or {}).get("secret")
        if not secret or not secret_name_ok(secret.get("secretName"), secret_key[0]):
            continue
        items = {i["path"]: i["key"] for i in secret.get("items") or []}
        if path and path.startswith(mount["mountPath"].rstrip("/") + "/"):
            file = path[len(mount["mountPath"].rstrip("/")) + 1:]
            key = items.get(file, file if not items else None)
            if key == secret_key[1]:
                return
    report.error(at, f"{setting} ({path!r}) must be the key {secret_key[1]} "
                     f"of the Secret {secret_key[0]}, mounted as a file")


def check_services(objects: list[dict], pods: dict, report: Report, where: str) -> None:
    services = {o["metadata"]["name"]: o for o in objects if o.get("kind") == "Service"}
    for server, labels in pods.items():
        service = services.get(server)
        at = f"{where}: Service/{server}"
        if not service:
            report.error(at, "missing")
            continue
        spec = service.get("spec") or {}
        if not selector_matches({"matchLabels": spec.get("selector") or {}}, labels) or not spec.get("selector"):
            report.error(at, "its selector does not match the Deployment's pods")
        ports = {p.get("port"): p for p in spec.get("ports") or []}
        entry = ports.get(SERVERS[server])
        if not entry or entry.get("targetPort") not in ("grpc", SERVERS[server]):
            report.error(at, f"needs port {SERVERS[server]} to the pods' grpc port")
        if server != "gateway" and spec.get("type", "ClusterIP") != "ClusterIP":
            report.error(at, "an internal service must stay ClusterIP")
        if server != "gateway" and spec.get("clusterIP") != "None":
            report.error(at, "an internal service must be headless (clusterIP: None), so that its "
                             "callers resolve and spread their calls over its pods")


def check_autoscaling(objects: list[dict], report: Report, where: str) -> None:
    hpas = [o for o in objects if o.get("kind") == "HorizontalPodAutoscaler"
            and (o.get("spec") or {}).get("scaleTargetRef", {}).get("name") == "gateway"]
    if len(hpas) != 1:
        report.error(where, "needs one HorizontalPodAutoscaler for the gateway")
        return
    hpa = hpas[0]
    at = f"{where}: {name_of(hpa)}"
    spec = hpa["spec"]
    if hpa.get("apiVersion") != "autoscaling/v2":
        report.error(at, "must be autoscaling/v2")
    if spec["scaleTargetRef"].get("kind") != "Deployment":
        report.error(at, "must scale the Deployment gateway")
    low, high = spec.get("minReplicas", 1), spec.get("maxReplicas", 0)
    if low < 2 or high < low:
        report.error(at, f"needs 2 <= minReplicas <= maxReplicas, not {low}..{high}")
    if not any((m.get("resource") or {}).get("name") == "cpu" for m in spec.get("metrics") or []):
        report.error(at, "needs a CPU metric")


def rule_ports(rule: dict, container_ports: dict) -> set | None:
    """The ports a rule opens (None: all), named ports resolved."""
    if not rule.get("ports"):
        return None
    opened = set()
    for p in rule["ports"]:
        if "port" not in p:
            return None
        value = p["port"]
        opened.add(container_ports.get(value, value) if isinstance(value, str) else value)
    return opened


def open_peer(peer: dict) -> bool:
    """True when a peer lets in traffic from outside partnerhub's own pods (beyond one chosen
    namespace): any ipBlock, or an empty namespaceSelector (every namespace)."""
    if "ipBlock" in peer:
        return True
    ns = peer.get("namespaceSelector")
    return ns is not None and not (ns.get("matchLabels") or ns.get("matchExpressions"))


def check_network_policies(objects: list[dict], pods: dict, report: Report, where: str) -> None:
    policies = [o for o in objects if o.get("kind") == "NetworkPolicy"]
    for server, labels in pods.items():
        at = f"{where}: pods of {server}"
        port = SERVERS[server]
        container_ports = {"grpc": port, "metrics": METRICS_PORT}
        selecting = [p for p in policies
                     if selector_matches((p.get("spec") or {}).get("podSelector"), labels)
                     and "Ingress" in ((p.get("spec") or {}).get("policyTypes") or ["Ingress"])]
        if not selecting:
            report.error(at, "no NetworkPolicy isolates them: every port is open to everyone")
            continue
        callers: set = set()
        scraped = False
        for policy in selecting:
            for rule in (policy.get("spec") or {}).get("ingress") or []:
                ports = rule_ports(rule, container_ports)
                rule_at = f"{at}, {name_of(policy)}"
                peers = rule.get("from") or []
                if not peers or any(open_peer(peer) for peer in peers):
                    # Open to everyone (or to any address): only the gateway's gRPC port.
                    if server != "gateway" or ports is None or ports != {port}:
                        report.error(rule_at, f"opens {'all ports' if ports is None else sorted(ports)} "
                                     "to everyone; only the gateway's gRPC port may be open")
                    continue
                for peer in peers:
                    if "namespaceSelector" in peer:
                        # Another namespace (Prometheus'): the metrics port only.
                        if ports != {METRICS_PORT}:
                            report.error(rule_at, "lets another namespace in on ports other than metrics")
                        else:
                            scraped = True
                        continue
                    selector = peer.get("podSelector")
                    # Same namespace: partnerhub pods only (a selector a pod without
                    # part-of=partnerhub could match is too wide).
                    for other, other_labels in pods.items():
                        stripped = {k: v for k, v in other_labels.items() if k != PART_OF[0]}
                        if selector_matches(selector, stripped):
                            report.error(rule_at, "lets in pods that are not partnerhub's")
                            break
                    matched = {o for o, ol in pods.items() if selector_matches(selector, ol)}
                    if ports is None or port in ports:
                        callers |= matched
                    if ports is None or METRICS_PORT in ports:
                        if matched:
                            report.error(rule_at, "lets partnerhub pods in on the metrics port")
        if server != "gateway" and callers != CALLERS[server]:
            report.error(at, f"gRPC callers allowed {sorted(callers)}, but the callers are "
                             f"{sorted(CALLERS[server])} (src/system.rs)")
        if not scraped:
            report.error(at, f"nothing may scrape the metrics port {METRICS_PORT}")


def check_secrets(objects: list[dict], complete: bool, report: Report, where: str) -> None:
    secrets = {o["metadata"]["name"]: o for o in objects if o.get("kind") == "Secret"}
    key_secrets = (secret for _, secret in (*KEY_FILES.values(), INTERNAL_KEY))
    for base, key in (DATABASE_SECRET, *key_secrets):
        found = [s for name, s in secrets.items() if secret_name_ok(name, base)]
        if complete and not found:
            report.error(where, f"the Secret {base} (key {key}) is missing")
        for secret in found:
            keys = set(secret.get("data") or {}) | set(secret.get("stringData") or {})
            if key not in keys:
                report.error(f"{where}: {name_of(secret)}", f"has no key {key}")


def check_namespaces(objects: list[dict], complete: bool, report: Report, where: str) -> None:
    if not complete:
        return
    for obj in objects:
        if obj.get("kind") not in CLUSTER_SCOPED and not (obj.get("metadata") or {}).get("namespace"):
            report.error(f"{where}: {name_of(obj)}", "has no namespace")


def check_file(file: str, path: str, versions: list[str], complete: bool, report: Report) -> int:
    with open(file) as f:
        objects = [o for o in yaml.safe_load_all(f) if o]
    for obj in objects:
        if not isinstance(obj, dict) or not obj.get("apiVersion") or not obj.get("kind") \
                or not (obj.get("metadata") or {}).get("name"):
            report.error(path, f"not a Kubernetes object: {str(obj)[:80]}")
            return len(objects)
    validate_schemas(objects, versions, report, path)
    pods = check_deployments(objects, complete, report, path)
    check_services(objects, pods, report, path)
    check_autoscaling(objects, report, path)
    check_network_policies(objects, pods, report, path)
    check_secrets(objects, complete, report, path)
    check_namespaces(objects, complete, report, path)
    return len(objects)


# ---------------------------------------------------------------------------------------------


def make_placeholders(root: str) -> None:
    """For rendering in a scratch copy: a stand-in for every generator input file that is not
    there (such as the signing key each installation makes itself and keeps out of git)."""
    for kustomization in Path(root).rglob("kustomization.yaml"):
        spec = yaml.safe_load(kustomization.read_text()) or {}
        for generator in (spec.get("secretGenerator") or []) + (spec.get("configMapGenerator") or []):
            for entry in (generator.get("files") or []) + (generator.get("envs") or []):
                file = kustomization.parent / entry.split("=", 1)[-1]
                if not file.exists():
                    file.write_text("placeholder written by deploy/check_manifests.py for rendering\n")
                    print(f"placeholder for {os.path.relpath(file, root)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", "--kubernetes-version", action="append", dest="versions")
    parser.add_argument("--complete", action="store_true",
                        help="an overlay: namespaces, Secrets and image tags must be there")
    parser.add_argument("--placeholders", metavar="DIR")
    parser.add_argument("--name", help="what to call the (single) file in messages")
    parser.add_argument("files", nargs="*")
    args = parser.parse_args()
    if args.placeholders:
        make_placeholders(args.placeholders)
        return 0
    if not args.files:
        parser.error("no rendered manifests given")
    versions = args.versions or ["1.30.0"]
    report = Report()
    for path in args.files:
        label = args.name if args.name and len(args.files) == 1 else path
        count = check_file(path, label, versions, args.complete, report)
        print(f"{label}: {count} objects checked against Kubernetes {', '.join(versions)} (strict)")
    for error in report.errors:
        print(f"ERROR {error}", file=sys.stderr)
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
