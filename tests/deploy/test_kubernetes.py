"""`webmcp deploy kubernetes`: the manifests pass the Kubernetes schemas (strict, at the oldest and newest
version kubernetes-validate ships, offline), agree with each other and with the server's real routes (the
generated args are run and the probe paths fetched), and a config that cannot scale out is refused."""

from __future__ import annotations

import contextlib
import importlib.resources
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner

from tests.integration.conftest import write_config
from tests.integration.test_http import free_port, wait_for_port
from webmcp.cli import main
from webmcp.config.units import parse_size

CONFIG = """
version: 1
server:
  transport: http
  graceful_timeout: 20s
  http: {stateless: true, port: 8080, auth_token_env: WEBMCP_TOKEN}
pools:
  shared: {kind: redis, url: "${REDIS_URL:-redis://127.0.0.1:6379/0}"}
executor:
  rate_limits: {backend: redis, pool: shared}
scaling:
  replicas: {min: 2, max: 6, cooldown: 2m}
  targets: {max_memory: 512MB}
tools:
  greet: {kind: python, function: "sample_tools:greet", rate_limit: 10/s}
  slow: {kind: python, function: "sample_tools:slow"}
"""


def shipped_versions() -> list[str]:
    """The Kubernetes versions whose strict schemas ship inside kubernetes-validate, oldest first."""
    folder = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"
    found = [m.group(1) for p in folder.iterdir() if (m := re.fullmatch(r"v(\d+\.\d+\.\d+)-local-strict", p.name))]
    return sorted(found, key=lambda v: tuple(int(x) for x in v.split(".")))


VERSIONS = shipped_versions()


def deploy(config: Path, out: Path, *extra: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main, ["deploy", "kubernetes", "-c", str(config), "-o", str(out), *extra], env=env)


def objects(out: Path) -> dict[str, dict[str, Any]]:
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted(out.glob("*.yaml"))}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def generated(workdir: Path) -> dict[str, dict[str, Any]]:
    config = write_config(workdir, CONFIG)
    result = deploy(config, workdir / "k8s", "--service-monitor")
    assert result.exit_code == 0, result.output
    return objects(workdir / "k8s")


def container(found: dict[str, dict[str, Any]]) -> dict[str, Any]:
    box: dict[str, Any] = found["deployment.yaml"]["spec"]["template"]["spec"]["containers"][0]
    return box


def test_the_versions_cover_a_range() -> None:
    """kubernetes-validate ships strict schemas from 1.25 on: the tests use the oldest and the newest."""
    assert VERSIONS[0] == "1.25.0" and len(VERSIONS) >= 2


@pytest.mark.parametrize("version", [VERSIONS[0], VERSIONS[-1]])
def test_every_object_passes_the_strict_schemas(generated: dict[str, dict[str, Any]], version: str) -> None:
    """Deployment, Service, ConfigMap, PodDisruptionBudget and HPA validate in strict mode (unknown fields are
    errors) at the oldest and the newest version; the CRD and kustomize files have no schema there."""
    kinds = set()
    for name, obj in generated.items():
        if name in ("servicemonitor.yaml", "kustomization.yaml", "prometheus-adapter-values.yaml"):
            continue
        kubernetes_validate.validate(obj, version, strict=True)
        kinds.add(obj["kind"])
    assert kinds == {"Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "HorizontalPodAutoscaler"}


def test_the_validator_refuses_what_is_wrong(generated: dict[str, dict[str, Any]]) -> None:
    """The check can fail: an unknown field and a wrong type are errors in strict mode."""
    deployment = generated["deployment.yaml"]
    deployment["spec"]["template"]["spec"]["containers"][0]["prots"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, VERSIONS[-1], strict=True)
    hpa = generated["hpa.yaml"]
    hpa["spec"]["minReplicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(hpa, VERSIONS[0], strict=True)


def test_the_objects_agree_with_each_other(generated: dict[str, dict[str, Any]]) -> None:
    """One port everywhere; probes on /healthz and /readyz; the grace period covers preStop and the drain;
    no replicas under an HPA; memory limit at least max_memory; the config mounted as a folder."""
    box = container(generated)
    (port,) = box["ports"]
    assert port["containerPort"] == 8080
    args = box["args"]
    assert args[args.index("--host") + 1] == "0.0.0.0" and args[args.index("--port") + 1] == str(port["containerPort"])
    for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        assert box[probe]["httpGet"] == {"path": path, "port": port["name"]}
    service = generated["service.yaml"]["spec"]
    assert service["sessionAffinity"] == "None" and service["ports"][0]["targetPort"] == port["name"]
    assert service["selector"] == generated["deployment.yaml"]["spec"]["template"]["metadata"]["labels"]
    monitor = generated["servicemonitor.yaml"]["spec"]
    assert monitor["endpoints"][0]["port"] == service["ports"][0]["name"]
    assert monitor["endpoints"][0]["path"] == "/metrics"
    deployment = generated["deployment.yaml"]["spec"]
    assert "replicas" not in deployment
    assert deployment["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = deployment["template"]["spec"]
    prestop = int(box["lifecycle"]["preStop"]["exec"]["command"][1])
    assert pod["terminationGracePeriodSeconds"] >= prestop + 20 + 5
    memory = box["resources"]["limits"]["memory"]
    assert parse_size(memory.replace("Mi", "MiB")) >= parse_size("512MB")
    (mount,) = box["volumeMounts"]
    assert "subPath" not in mount and mount["mountPath"] == "/etc/webmcp"
    assert args[args.index("-c") + 1] == "/etc/webmcp/webmcp.yaml"
    items = {i["path"]: i["key"] for i in pod["volumes"][0]["configMap"]["items"]}
    assert set(items) == {"webmcp.yaml", "sample_tools.py"}
    assert set(items.values()) == set(generated["configmap.yaml"]["data"])
    hpa = generated["hpa.yaml"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 120
    assert {m["type"] for m in hpa["metrics"]} == {"Resource", "Pods"}
    pods_metric = next(m for m in hpa["metrics"] if m["type"] == "Pods")["pods"]["metric"]["name"]
    rule = generated["prometheus-adapter-values.yaml"]["rules"]["custom"][0]
    assert rule["name"]["as"] == pods_metric and pods_metric in rule["seriesQuery"]
    assert generated["pdb.yaml"]["spec"]["selector"]["matchLabels"] == service["selector"]
    listed = set(generated["kustomization.yaml"]["resources"])
    assert listed == set(generated) - {"kustomization.yaml", "prometheus-adapter-values.yaml"}


def test_secrets_are_references_never_values(workdir: Path) -> None:
    """`${VAR}`s and *_env settings become secretKeyRefs (optional when the reference has a default); the
    values in the environment appear nowhere in the output."""
    config = write_config(workdir, CONFIG)
    result = deploy(config, workdir / "k8s", env={"REDIS_URL": "redis://:hunter2@redis:6379/0",
                                                   "WEBMCP_TOKEN": "s3cr3t-token"})
    assert result.exit_code == 0, result.output
    text = "".join(p.read_text() for p in (workdir / "k8s").iterdir())
    assert "hunter2" not in text and "s3cr3t-token" not in text and "hunter2" not in result.output
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container(objects(workdir / "k8s"))["env"]}
    assert env == {"REDIS_URL": {"name": "webmcp-secrets", "key": "REDIS_URL", "optional": True},
                   "WEBMCP_TOKEN": {"name": "webmcp-secrets", "key": "WEBMCP_TOKEN"}}


def test_fixed_replicas_get_no_autoscaler(workdir: Path) -> None:
    """min equal to max: `replicas` on the Deployment, no HPA and no adapter rules."""
    config = write_config(workdir, CONFIG.replace("{min: 2, max: 6, cooldown: 2m}", "{min: 3, max: 3}"))
    assert deploy(config, workdir / "k8s").exit_code == 0
    found = objects(workdir / "k8s")
    assert found["deployment.yaml"]["spec"]["replicas"] == 3
    assert "hpa.yaml" not in found and "prometheus-adapter-values.yaml" not in found


def checksum(workdir: Path, text: str) -> str:
    config = write_config(workdir, text)
    out = workdir / f"k8s-{time.monotonic_ns()}"
    assert deploy(config, out).exit_code == 0
    value: str = objects(out)["deployment.yaml"]["spec"]["template"]["metadata"]["annotations"][
        "webmcp/config-checksum"]
    return value


def test_the_checksum_rolls_pods_only_for_what_a_reload_cannot_change(workdir: Path) -> None:
    """Without watch any change of the ConfigMap changes the checksum (a rollout); with server.watch a new tool
    does not (the pods reload it), a new port does."""
    added = "  extra: {kind: static, content: hi}\n"
    assert checksum(workdir, CONFIG) != checksum(workdir, CONFIG + added)
    watched = CONFIG.replace("  transport: http\n", "  transport: http\n  watch: true\n")
    assert checksum(workdir, watched) == checksum(workdir, watched + added)
    assert checksum(workdir, watched) != checksum(workdir, watched.replace("port: 8080", "port: 9090"))


@pytest.mark.parametrize(("text", "expected"), [
    (CONFIG.replace("  transport: http\n", ""),
     "webmcp.yaml:3:1: server.transport: a Deployment serves HTTP; the stdio transport has one client, the process "
     'that started the server (got "stdio"); set server.transport: http'),
    (CONFIG.replace("stateless: true", "stateless: false"),
     "webmcp.yaml:12:22: scaling.replicas.max: more than one replica needs sessions that any instance can serve"),
], ids=["stdio", "memory-sessions"])
def test_a_config_that_cannot_scale_out_is_a_located_error(workdir: Path, text: str, expected: str) -> None:
    """Exit 3, naming what blocks it, where it is written; nothing is written."""
    config = write_config(workdir, text)
    result = deploy(config, workdir / "k8s")
    assert result.exit_code == 3, result.output
    assert result.output.startswith(f"{config.parent}/{expected}"), result.output
    assert not (workdir / "k8s").exists()


def test_sessions_shared_through_redis_scale_out(workdir: Path) -> None:
    """2025 sessions with their records in Redis: several replicas without affinity are fine."""
    text = CONFIG.replace("stateless: true", "sessions: {backend: redis, pool: shared}")
    result = deploy(write_config(workdir, text), workdir / "k8s")
    assert result.exit_code == 0, result.output
    service = yaml.safe_load((workdir / "k8s" / "service.yaml").read_text())
    assert service["spec"]["sessionAffinity"] == "None"


def test_memory_caches_and_sessions_on_one_replica_are_fine(workdir: Path) -> None:
    """A memory cache is a warning, not an error; 2025 sessions in memory are fine on one replica."""
    text = CONFIG.replace("stateless: true", "stateless: false").replace(
        "{min: 2, max: 6, cooldown: 2m}", "{min: 1, max: 1}") + "caches:\n  hot: {strategy: lru}\n"
    result = deploy(write_config(workdir, text), workdir / "k8s")
    assert result.exit_code == 0, result.output
    text = CONFIG + "caches:\n  hot: {strategy: lru}\n"
    result = deploy(write_config(workdir, text), workdir / "k8s2")
    assert result.exit_code == 0
    assert f"warning: {workdir}/webmcp.yaml:18:3: caches.hot: a memory cache is per replica" in result.output


def status_of(url: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            resp.read()
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def materialize(found: dict[str, dict[str, Any]], mount: Path) -> None:
    """The ConfigMap volume as the kubelet lays it out: each item's key written at its path."""
    data = found["configmap.yaml"]["data"]
    for item in found["deployment.yaml"]["spec"]["template"]["spec"]["volumes"][0]["configMap"]["items"]:
        target = mount / item["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(data[item["key"]])


@contextlib.contextmanager
def run_container(found: dict[str, dict[str, Any]], workdir: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """The container's command and args, run here: the mount path mapped to a folder, the port to a free one."""
    box = container(found)
    mount = workdir / "mount"
    materialize(found, mount)
    args = [a.replace("/etc/webmcp", str(mount)) for a in box["args"]]
    args[args.index("--port") + 1] = str(port)
    assert box["command"] == ["webmcp"]
    proc = subprocess.Popen([sys.executable, "-m", "webmcp", *args], cwd=workdir, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, "WEBMCP_TOKEN": "t"})
    try:
        wait_for_port(proc, port)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        assert proc.stderr is not None
        proc.stderr.close()


@pytest.mark.slow
def test_the_probes_reach_the_real_routes_and_readyz_fails_while_draining(generated: dict[str, dict[str, Any]],
                                                                          workdir: Path) -> None:
    """The generated args serve every probe path with 200; after SIGTERM, with a call still running, /readyz
    answers 503 while /healthz still answers."""
    port = free_port()
    box = container(generated)
    with run_container(generated, workdir, port) as proc:
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            get = box[probe]["httpGet"]
            assert get["port"] == box["ports"][0]["name"]
            assert status_of(f"http://127.0.0.1:{port}{get['path']}") == 200
        call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "slow", "arguments": {"seconds": 3, "marker": str(workdir / "cancelled")}}}
        headers = {"Authorization": "Bearer t", "Accept": "application/json, text/event-stream"}
        answered: list[int] = []
        slow = threading.Thread(target=lambda: answered.append(status_of(f"http://127.0.0.1:{port}/mcp", call,
                                                                          headers)))
        slow.start()
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert status_of(f"http://127.0.0.1:{port}/readyz") == 503
        assert status_of(f"http://127.0.0.1:{port}/healthz") == 200
        slow.join(30)
        assert answered == [200] and not (workdir / "cancelled").exists()
        assert proc.wait(30) == 0


def test_what_the_configmap_cannot_carry_is_a_warning(workdir: Path) -> None:
    """A command tool run from the config folder, and no max_memory: warned about, and written."""
    text = CONFIG.replace("  targets: {max_memory: 512MB}\n", "") + "  reindex: {kind: command, argv: [./reindex.sh]}\n"
    result = deploy(write_config(workdir, text), workdir / "k8s")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning: ")]
    assert [w.split(": ", 3)[2] for w in warnings] == ["scaling.targets", "tools.reindex.argv"], warnings
    assert "memory limit is a guess (1Gi)" in warnings[0] and "install the program in the image" in warnings[1]


def test_file_names_become_valid_configmap_keys(workdir: Path) -> None:
    """A config file named with a space, and a tool module in a package: keys Kubernetes accepts, mounted at
    the files' own paths."""
    pkg = workdir / "team_tools"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "text.py").write_text("def shout(text: str) -> str:\n    return text.upper()\n")
    config = workdir / "my tools.yaml"
    config.write_text(CONFIG.replace('"sample_tools:greet"', '"team_tools.text:shout"').replace(
        '  slow: {kind: python, function: "sample_tools:slow"}\n', ""))
    assert deploy(config, workdir / "k8s").exit_code == 0
    found = objects(workdir / "k8s")
    kubernetes_validate.validate(found["configmap.yaml"], VERSIONS[-1], strict=True)
    keys = set(found["configmap.yaml"]["data"])
    assert all(re.fullmatch(r"[-._a-zA-Z0-9]+", k) for k in keys), keys
    items = found["deployment.yaml"]["spec"]["template"]["spec"]["volumes"][0]["configMap"]["items"]
    assert sorted(i["path"] for i in items) == ["my tools.yaml", "team_tools/__init__.py", "team_tools/text.py"]
    assert container(found)["args"][2] == "/etc/webmcp/my tools.yaml"
