"""`webmcp deploy kubernetes`: the manifests that run a config as replicas behind a Service.

What each object carries, and why:
- Deployment: the server listens on 0.0.0.0 on the container port `http`, which the Service and every
  probe use. startupProbe and livenessProbe GET /healthz, readinessProbe GET /readyz (503 while the
  server drains, so no new request is routed to it). A preStop sleep lets the endpoint removal reach
  every load balancer before SIGTERM starts the drain; terminationGracePeriodSeconds = preStop +
  server.graceful_timeout + 5 s, so calls finish before SIGKILL. RollingUpdate with maxUnavailable 0.
  The memory limit is max_memory plus a quarter (webmcp sheds calls from 90% of max_memory; the limit
  is where the kernel kills). No `replicas` when an HPA owns the count.
- The config and its python tool files are one ConfigMap mounted as a directory (never subPath, which
  freezes the file): with `server.watch: true` an updated ConfigMap is reloaded in place, and the pod
  template's checksum annotation then covers only the settings a reload cannot change, so applying a
  new config does not restart pods; without watch the checksum covers the whole ConfigMap (a change
  rolls the pods).
- `${VAR}` references and the `*_env` settings become env entries from a Secret (`<name>-secrets`):
  references only, never values.
- HorizontalPodAutoscaler (autoscaling/v2) when scaling.replicas has min < max: CPU utilization plus
  calls in flight per pod (a Pods metric served by prometheus-adapter, whose rules are written too);
  scale-down stabilization is scaling.replicas.cooldown.
- PodDisruptionBudget maxUnavailable 1; optional ServiceMonitor (prometheus-operator).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from webmcp.config.interpolate import references
from webmcp.config.spec import ConfigSpec
from webmcp.server.diff import RESTART_ONLY

MOUNT = "/etc/webmcp"
PORT_NAME = "http"
CPU_TARGET = 70  # percent of the CPU request
MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Options:
    name: str = "webmcp"
    image: str = "webmcp:latest"
    namespace: str | None = None
    prestop: int = 5  # seconds
    service_monitor: bool = False


def config_files(spec: ConfigSpec) -> dict[str, str]:
    """The ConfigMap's files, by path relative to the config folder: the config file and the python
    modules its tools, resources and prompts name (with their packages' __init__.py)."""
    source = Path(spec.source)
    files = {source.name: source.read_text(encoding="utf-8")}
    base = spec.base_dir
    references_ = [getattr(t, "function", None) for t in spec.tools.values()]
    references_ += [r.function for r in spec.resources.values()] + [p.function for p in spec.prompts.values()]
    for module in sorted({ref.partition(":")[0] for ref in references_ if isinstance(ref, str)}):
        parts = module.split(".")
        candidates = [Path(*parts[:i], "__init__.py") for i in range(1, len(parts))]
        candidates += [Path(*parts).with_suffix(".py"), Path(*parts, "__init__.py")]
        for rel in candidates:
            if (base / rel).is_file():
                files[rel.as_posix()] = (base / rel).read_text(encoding="utf-8")
    return files


def secret_variables(spec: ConfigSpec) -> dict[str, bool]:
    """Variable name → may be unset: the config's `${VAR}`s and the variables its `*_env` settings name."""
    found = references(Path(spec.source).read_text(encoding="utf-8"))
    for name in _env_settings(spec.document):
        found[name] = False
    return dict(sorted(found.items()))


def _env_settings(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if isinstance(key, str) and key.endswith("_env") and isinstance(value, str):
                yield value
            else:
                yield from _env_settings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _env_settings(item)


def checksum(spec: ConfigSpec, files: Mapping[str, str]) -> str:
    """With server.watch, of the settings a reload ignores (a change must restart the pods); else of
    every file of the ConfigMap."""
    h = hashlib.sha256()
    if spec.server.watch:
        for name in RESTART_ONLY:
            h.update(f"{name}={getattr(spec.server, name)!r}\n".encode())
    else:
        for rel, text in sorted(files.items()):
            h.update(f"{rel}\0{text}\0".encode())
    return h.hexdigest()


def _mib(size: float) -> str:
    return f"{math.ceil(size / MIB)}Mi"


def manifests(spec: ConfigSpec, options: Options) -> dict[str, dict[str, Any]]:
    """File name → the Kubernetes object it holds (plus prometheus-adapter values and a kustomization)."""
    name = options.name
    labels = {"app.kubernetes.io/name": "webmcp", "app.kubernetes.io/instance": name}
    meta: dict[str, Any] = {"name": name, "labels": labels}
    if options.namespace:
        meta["namespace"] = options.namespace
    port = spec.server.http.port
    files = config_files(spec)
    keys = {rel: re.sub(r"[^-._a-zA-Z0-9]", "_", rel.replace("/", "__")) for rel in files}  # ConfigMap key rules
    replicas = spec.scaling.replicas
    autoscaled = replicas is not None and replicas.min < replicas.max
    workers = spec.scaling.workers.max if spec.scaling.workers is not None else 1
    out: dict[str, dict[str, Any]] = {}

    out["configmap.yaml"] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {**meta, "name": f"{name}-config"},
                             "data": {keys[rel]: text for rel, text in sorted(files.items())}}
    out["deployment.yaml"] = _deployment(spec, options, meta, labels, files, keys, port, workers,
                                         None if autoscaled else (replicas.min if replicas else 1))
    out["service.yaml"] = {
        "apiVersion": "v1", "kind": "Service", "metadata": meta,
        "spec": {"type": "ClusterIP", "sessionAffinity": "None", "selector": labels,
                 "ports": [{"name": PORT_NAME, "port": port, "targetPort": PORT_NAME, "protocol": "TCP"}]}}
    out["pdb.yaml"] = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta,
                       "spec": {"maxUnavailable": 1, "selector": {"matchLabels": labels}}}
    if autoscaled:
        assert replicas is not None
        out["hpa.yaml"] = _hpa(spec, meta, replicas.min, replicas.max, replicas.cooldown, workers)
        out["prometheus-adapter-values.yaml"] = adapter_values()
    if options.service_monitor:
        out["servicemonitor.yaml"] = {
            "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": meta,
            "spec": {"selector": {"matchLabels": labels},
                     "endpoints": [{"port": PORT_NAME, "path": "/metrics", "interval": "15s"}]}}
    resources = [f for f in out if f != "prometheus-adapter-values.yaml"]
    kustomization: dict[str, Any] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                                     "resources": resources}
    out["kustomization.yaml"] = kustomization
    return out


def _deployment(spec: ConfigSpec, options: Options, meta: dict[str, Any], labels: dict[str, str],
                files: Mapping[str, str], keys: Mapping[str, str], port: int, workers: int,
                replicas: int | None) -> dict[str, Any]:
    name = options.name
    config_name = Path(spec.source).name
    http = spec.server.http
    probe_headers = [{"name": "Host", "value": http.allowed_hosts[0]}] if http.allowed_hosts else None

    def probe(path: str, **timing: int) -> dict[str, Any]:
        get: dict[str, Any] = {"path": path, "port": PORT_NAME}
        if probe_headers:
            get["httpHeaders"] = probe_headers
        return {"httpGet": get, **timing}

    max_memory = spec.scaling.max_memory
    resources = {
        "requests": {"cpu": f"{500 * workers}m", "memory": _mib(max_memory) if max_memory else "256Mi"},
        "limits": {"memory": _mib(max_memory * 1.25) if max_memory else "1Gi"},
    }
    env = [{"name": var, "valueFrom": {"secretKeyRef": {"name": f"{name}-secrets", "key": var,
                                                          **({"optional": True} if optional else {})}}}
           for var, optional in secret_variables(spec).items()]
    container: dict[str, Any] = {
        "name": "webmcp",
        "image": options.image,
        "command": ["webmcp"],
        "args": ["serve", "-c", f"{MOUNT}/{config_name}", "--host", "0.0.0.0", "--port", str(port)],
        "ports": [{"name": PORT_NAME, "containerPort": port, "protocol": "TCP"}],
        "startupProbe": probe("/healthz", periodSeconds=1, failureThreshold=120),
        "livenessProbe": probe("/healthz", periodSeconds=10, failureThreshold=3, timeoutSeconds=2),
        "readinessProbe": probe("/readyz", periodSeconds=2, failureThreshold=1, timeoutSeconds=2),
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(options.prestop)]}}},
        "resources": resources,
        "volumeMounts": [{"name": "config", "mountPath": MOUNT, "readOnly": True}],
    }
    if env:
        container["env"] = env
    grace = math.ceil(options.prestop + spec.server.graceful_timeout + 5)
    pod: dict[str, Any] = {
        "metadata": {"labels": labels, "annotations": {"webmcp/config-checksum": checksum(spec, files)}},
        "spec": {
            "terminationGracePeriodSeconds": grace,
            "containers": [container],
            "volumes": [{"name": "config", "configMap": {
                "name": f"{name}-config", "items": [{"key": keys[rel], "path": rel} for rel in sorted(files)]}}],
        },
    }
    body: dict[str, Any] = {
        "selector": {"matchLabels": labels},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "template": pod,
    }
    if replicas is not None:
        body = {"replicas": replicas, **body}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": body}


def in_flight_target(spec: ConfigSpec, workers: int) -> int:
    """Calls in flight per pod the HPA aims at: half of what the pod admits at once."""
    return max(1, spec.executor.max_concurrency * workers // 2)


def _hpa(spec: ConfigSpec, meta: dict[str, Any], low: int, high: int, cooldown: float,
         workers: int) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta,
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": meta["name"]},
            "minReplicas": low, "maxReplicas": high,
            "metrics": [
                {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                              "averageUtilization": CPU_TARGET}}},
                {"type": "Pods", "pods": {"metric": {"name": "webmcp_in_flight_calls"},
                                          "target": {"type": "AverageValue",
                                                     "averageValue": str(in_flight_target(spec, workers))}}},
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": math.ceil(cooldown)}},
        },
    }


def adapter_values() -> dict[str, Any]:
    """Values for the prometheus-community/prometheus-adapter chart: the per-pod in-flight gauge as a custom
    metric of the pods API (`webmcp_in_flight_calls`), which the HPA's Pods metric reads."""
    return {"rules": {"custom": [{
        "seriesQuery": 'webmcp_in_flight_calls{namespace!="",pod!=""}',
        "resources": {"overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}},
        "name": {"matches": "^webmcp_in_flight_calls$", "as": "webmcp_in_flight_calls"},
        "metricsQuery": "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)",
    }]}}


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # the labels appear several times: written out each time, never as &anchors


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _text)


def dump(obj: Mapping[str, Any]) -> str:
    return yaml.dump(dict(obj), Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True)


def write(spec: ConfigSpec, options: Options, folder: Path) -> list[Path]:
    """Write every manifest into `folder` (created); the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for file, obj in manifests(spec, options).items():
        path = folder / file
        path.write_text(dump(obj), encoding="utf-8")
        written.append(path)
    return written
