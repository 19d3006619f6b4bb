"""What keeps a config from running as several instances behind a load balancer, as located problems
(blockers), and what works but differs per instance (warnings)."""

from __future__ import annotations

from webmcp.config.marked_yaml import Path, dotted
from webmcp.config.spec import ConfigSpec
from webmcp.config.validate import show
from webmcp.errors import Problem


def sessions_shared(spec: ConfigSpec) -> bool:
    """Can any instance serve any request of a 2025 client? Yes when there are no sessions
    (`server.http.stateless`), or when their records are in Redis (`server.http.sessions.backend: redis`)."""
    return spec.server.http.stateless or spec.server.http.sessions.backend == "redis"


def _at(spec: ConfigSpec, path: Path, message: str, got: str | None = None, hint: str | None = None) -> Problem:
    if spec.origins is None:
        return Problem(spec.source, None, None, dotted(path), message, got, hint)
    source, line, column = spec.origins.locate(path)
    return Problem(source, line, column, dotted(path), message, got, hint)


def blockers(spec: ConfigSpec) -> list[Problem]:
    """Why this config cannot be deployed as replicas of one Deployment; empty when it can."""
    problems = []
    if spec.server.transport != "http":
        problems.append(_at(spec, ("server", "transport"), "a Deployment serves HTTP; the stdio transport has one "
                            "client, the process that started the server", show(spec.server.transport),
                            "set server.transport: http"))
    replicas = spec.scaling.replicas
    if replicas is not None and replicas.max > 1 and not sessions_shared(spec):
        problems.append(_at(spec, ("scaling", "replicas", "max"), "more than one replica needs sessions that any "
                            "instance can serve: a 2025 session lives in the instance that opened it, and a "
                            "load balancer without affinity sends its next request elsewhere", show(replicas.max),
                            "set server.http.sessions: {backend: redis, pool: NAME}, or server.http.stateless: "
                            "true (2026-07-28 clients need nothing shared), or replicas: {min: 1, max: 1}"))
    if spec.telemetry.listen is not None:
        problems.append(_at(spec, ("telemetry", "listen"), "telemetry.listen serves stdio servers; over HTTP, "
                            "/metrics, /healthz and /readyz are on the main listener, where the probes go",
                            f"{spec.telemetry.listen[0]}:{spec.telemetry.listen[1]}", "remove telemetry.listen"))
    return problems


def warnings(spec: ConfigSpec) -> list[Problem]:
    """What works across replicas but is per instance, or will not work in a read-only ConfigMap folder."""
    out = []
    several = spec.scaling.replicas is not None and spec.scaling.replicas.max > 1
    if several:
        for name, cache in spec.caches.items():
            if cache.backend == "memory" and not cache.is_off:
                out.append(_at(spec, ("caches", name), "a memory cache is per replica: each fills its own, and an "
                               "invalidating call empties only the replica that served it", None,
                               "use backend: redis with a pool to share entries and invalidations"))
        if spec.executor.rate_limits.backend == "memory" and _has_rate_limits(spec):
            out.append(_at(spec, ("executor",), "rate limits are per replica: each limit is multiplied by the "
                           "number of replicas", None, "set executor.rate_limits: {backend: redis, pool: NAME}"))
    if spec.scaling.max_memory is None:
        out.append(_at(spec, ("scaling", "targets"), "without max_memory the pod's memory limit is a guess (1Gi), "
                       "and the kernel kills the pod where webmcp could have refused calls first", None,
                       "set scaling.targets.max_memory (the limit becomes max_memory plus a quarter)"))
    for name, model in spec.models.items():
        if model.path.startswith(str(spec.base_dir) + "/"):
            out.append(_at(spec, ("models", name, "path"), "the model folder is under the config folder, and only "
                           "the config and its python files go into the ConfigMap", None,
                           "put the model in the image (or a volume) and give its absolute path"))
    for name, tool in spec.tools.items():
        if getattr(tool, "kind", None) == "semantic_search":
            out.append(_at(spec, ("tools", name, "files"), "the files to search are not in the ConfigMap (only the "
                           "config and its python files are)", None,
                           "put them in the image or a volume, with globs that reach them there"))
        argv = getattr(tool, "argv", None)
        if getattr(tool, "kind", None) == "command" and argv and argv[0].startswith("."):
            out.append(_at(spec, ("tools", name, "argv"), "the program is a path relative to the config folder, "
                           "and only the config and its python files go into the ConfigMap", None,
                           "install the program in the image and name it by an absolute path or on PATH"))
    written = ((spec.document.get("telemetry") or {}).get("spans") or {}).get("path")
    if isinstance(written, str) and not written.startswith("/"):
        out.append(_at(spec, ("telemetry", "spans", "path"), "span files go beside the config, in the ConfigMap "
                       "folder, which is read-only", None, "give an absolute path on a writable volume"))
    return out


def _has_rate_limits(spec: ConfigSpec) -> bool:
    return spec.executor.client_rate_limit is not None or any(t.rate_limit is not None for t in spec.tools.values())
