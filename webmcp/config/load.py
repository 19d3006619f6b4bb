"""`load()`: a config file (plus profile, env and flag layers) in, a frozen ConfigSpec out, or a
ConfigError listing every problem at once. Same code path for `validate`, `serve` and reload."""

from __future__ import annotations

import ipaddress
import logging
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path as FsPath
from typing import Any

from webmcp.call import results
from webmcp.config import interpolate, layers, marked_yaml, memo
from webmcp.config.layers import Origins, Override
from webmcp.config.machine import Machine, choose_profile, current
from webmcp.config.marked_yaml import Locations
from webmcp.config.plugins import admit
from webmcp.config.spec import ConfigSpec, ExecutorSpec, ScalingSpec, ServerSpec, SpecContext, TelemetrySpec
from webmcp.config.validate import show, validate_document
from webmcp.errors import ConfigError, Problem

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Profile:
    name: str  # apple-silicon, linux-cpu, cuda, none, or a path
    reason: str  # why: what `auto` found on the machine, or who named it


def read_layer(text: str, source: str, env: Mapping[str, str]) -> tuple[Any, Locations, list[Problem]]:
    """One layer's text, expanded and parsed; the values it took from `env` join the load's SECRETS."""
    expanded, cmap, problems = interpolate.expand(text, env, source)
    secrets = interpolate.SECRETS.get()
    if cmap.secrets and isinstance(secrets, dict):
        secrets.update(cmap.secrets)
    data, locations, parse_problems = marked_yaml.parse(expanded, source, cmap)
    return data, locations, problems + parse_problems


def load(
    path: str | os.PathLike[str],
    *,
    overrides: list[Override] | None = None,
    env: Mapping[str, str] | None = None,
    machine: Machine | None = None,
    text: str | None = None,
) -> ConfigSpec:
    """A document that passed the schema check before (config/memo.py) is not checked again, unless
    the process checks everything (`webmcp validate`). `machine`: readings to use instead of this
    machine's (config/machine.py), for `profile: auto` and the `auto` model settings. `text`: the file's
    contents as read earlier (a supervisor's workers all load the one text it read), else read now. Problems
    show the values that came from the environment as their `${VAR}` (ConfigSpec.secrets keeps them for the
    build)."""
    secrets: dict[str, str] = {}
    token = interpolate.SECRETS.set(secrets)
    try:
        spec = replace(_load(path, overrides, env, machine, text), secrets=secrets)
        results.HIDDEN.update(secrets)
        return spec
    except ConfigError as exc:
        raise ConfigError([interpolate.conceal(p, secrets) for p in exc.problems]) from None
    finally:
        interpolate.SECRETS.reset(token)


def _load(
    path: str | os.PathLike[str], overrides: list[Override] | None, env: Mapping[str, str] | None,
    machine: Machine | None, text: str | None,
) -> ConfigSpec:
    env = os.environ if env is None else env
    overrides = overrides or []
    file = FsPath(path)
    source = str(path)
    try:
        if text is None:
            text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError([Problem(source, None, None, "", f"cannot read the config file: {reason}")]) from None
    data, locations, problems = read_layer(text, source, env)
    if problems:
        raise ConfigError(problems)
    if not isinstance(data, dict):
        raise ConfigError([Problem(source, 1, 1, "", "the config must be a mapping of sections", show(data),
                                   "start with `version: 1` and a `tools:` section")])
    base_dir = file.resolve().parent
    machine = machine or current(env)

    profile, profile_doc, profile_locs = _profile(data, overrides, base_dir, env, locations, problems, machine)
    merged = layers.apply(layers.merge(profile_doc, data), overrides)
    origins = Origins(locations, profile_locs, overrides)
    plugin_problems, uses_plugins = admit(merged, origins.locate)  # before the schema check: their schemas
    problems += plugin_problems
    problems += _validate(merged, origins, problems, memoize=not uses_plugins)
    if problems:
        raise ConfigError(problems)

    ctx = SpecContext(origins.locate, base_dir, origins.text)
    spec = _build_spec(merged, ctx, source, base_dir, profile, machine, origins)
    if ctx.problems:
        raise ConfigError(ctx.problems)
    return spec


def _validate(merged: dict[str, Any], origins: Origins, earlier: list[Problem], memoize: bool = True) -> list[Problem]:
    """The schema check of the merged document, or nothing when it passed before (not memoized when it uses plugin
    kinds: the digest does not cover their schemas)."""
    key = memo.key_of("config", merged) if memoize else None
    if key is not None and not earlier and memo.passed(key):
        return []
    problems = validate_document(merged, origins.locate)
    if key is not None and not problems and not earlier:
        memo.record(key)
    return problems


def _profile(
    data: dict[str, Any],
    overrides: list[Override],
    base_dir: FsPath,
    env: Mapping[str, str],
    locations: Locations,
    problems: list[Problem],
    machine: Machine,
) -> tuple[Profile, dict[str, Any], Locations | None]:
    chosen = next((ov for ov in reversed(overrides) if ov.path == ("profile",)), None)
    name = chosen.value if chosen else data.get("profile", "auto")
    if not isinstance(name, str):
        return Profile("none", "the profile key is not a name"), {}, None  # the schema check reports it
    if name == "auto":
        resolved, reason = choose_profile(machine)
        if machine.rosetta:
            log.warning("%s", reason)
    else:
        how = chosen.label if chosen else f"profile: {name} in {locations.source}"
        resolved, reason = name, f"named by {how}"
    profile = Profile(resolved, reason)
    try:
        found = layers.profile_source(resolved, base_dir)
    except OSError:
        mark = None if chosen else locations.find(("profile",))
        label = chosen.label if chosen else locations.source
        line, col = mark if mark else (None, None)
        known = ", ".join(["auto", "none", *layers.builtin_profiles()])
        problems.append(Problem(label, line, col, "profile", "no such profile", show(name),
                                f"use one of {known}, or a path to a .yaml file"))
        return profile, {}, None
    if found is None:
        return profile, {}, None
    label, text = found
    doc, locs, profile_problems = read_layer(text, label, env)
    problems += profile_problems
    return profile, (doc if isinstance(doc, dict) else {}), locs


def _build_spec(merged: dict[str, Any], ctx: SpecContext, source: str, base_dir: FsPath, profile: Profile,
                machine: Machine, origins: Origins) -> ConfigSpec:
    from webmcp.config.caches import cache_specs
    from webmcp.config.master import master_specs
    from webmcp.config.models import model_specs
    from webmcp.config.prompts import PromptSpec
    from webmcp.config.references import check_redis_pool, check_references, check_session_pool, upstream_sections
    from webmcp.config.registry import kind
    from webmcp.config.resources import ResourceSpec
    from webmcp.config.toolsets import toolset_specs

    tools = {}
    for name, node in (merged.get("tools") or {}).items():
        tools[name] = kind("tools", node["kind"]).spec_type.from_config(name, node, ("tools", name), ctx)
    masters = master_specs(merged.get("master_tools") or {}, tools, ctx)
    sections = upstream_sections(merged, ctx)
    executor = ExecutorSpec.from_config(merged.get("executor") or {})
    if executor.rate_limits.pool is not None and executor.rate_limits.backend == "memory":
        ctx.problem(("executor", "rate_limits", "pool"), "a pool is for backend: redis (memory buckets need none)",
                    show(executor.rate_limits.pool), "add backend: redis, or remove pool")
    elif executor.rate_limits.pool is not None:
        check_redis_pool(("executor", "rate_limits", "pool"), executor.rate_limits.pool, sections["pools"], ctx)
    scaling_node = merged.get("scaling") or {}
    scaling = ScalingSpec.from_config(scaling_node)
    caches = cache_specs(merged.get("caches") or {}, ctx)
    models = model_specs(merged.get("models") or {}, merged.get("model_defaults") or {}, machine, ctx)
    # The default shed classes are not checked: a config with classes of its own need not name them.
    check_references(tools, masters, sections, caches, models, [c for c, _ in executor.priorities],
                     scaling.shed if "shed" in scaling_node else (), ctx)
    check_replacements(tools, masters, ctx)
    toolsets = toolset_specs(merged.get("toolsets") or {}, models, ctx)
    server = ServerSpec.from_config(merged.get("server") or {}, base_dir)
    check_session_pool(server.http.sessions, sections["pools"], ctx)
    check_workers(scaling, scaling_node, server, merged.get("telemetry") or {}, ctx)
    check_alerts(scaling, merged.get("telemetry") or {}, ctx)
    if scaling.replicas is not None and scaling.replicas.min > scaling.replicas.max:
        ctx.problem(("scaling", "replicas", "min"), f"min must not be more than max ({scaling.replicas.max})",
                    show(scaling.replicas.min))
    check_auth(server, ctx)
    resources = {name: ResourceSpec.from_config(name, node, ("resources", name), ctx)
                 for name, node in (merged.get("resources") or {}).items()}
    prompts = {name: PromptSpec.from_config(name, node, ("prompts", name), ctx)
               for name, node in (merged.get("prompts") or {}).items()}
    return ConfigSpec(
        source=source,
        base_dir=base_dir,
        profile=profile.name,
        profile_reason=profile.reason,
        machine=machine,
        origins=origins,
        document=merged,
        server=server,
        executor=executor,
        tools=tools,
        master_tools=masters,
        resources=resources,
        prompts=prompts,
        **sections,
        caches=caches,
        models=models,
        scaling=scaling,
        telemetry=TelemetrySpec.from_config(merged.get("telemetry") or {}, base_dir),
        toolsets=toolsets,
    )


def check_replacements(tools: Mapping[str, Any], masters: Mapping[str, Any], ctx: SpecContext) -> None:
    """A deprecated tool's `replacement` names a tool or master tool of this file."""
    from webmcp.config.validate import suggest

    known = {*tools, *masters}
    for tool in tools.values():
        gone = tool.deprecated
        if gone is not None and gone.replacement is not None and gone.replacement not in known:
            ctx.problem((*_path_of(tool.where.path), "deprecated", "replacement"), "no such tool in tools: or "
                        "master_tools:", show(gone.replacement), suggest(gone.replacement, known))


def _path_of(dotted_path: str) -> tuple[str, ...]:
    return tuple(dotted_path.split("."))


def check_auth(server: ServerSpec, ctx: SpecContext) -> None:
    """Keys fetched over plain HTTP could be anyone's: jwks_url is https, or http on loopback only."""
    auth = server.http.auth
    if auth is None or auth.jwks_url is None:
        return
    parts = urllib.parse.urlsplit(auth.jwks_url)
    if parts.scheme == "https":
        return
    try:
        loopback = ipaddress.ip_address(parts.hostname or "").is_loopback
    except ValueError:
        loopback = parts.hostname == "localhost"
    if not loopback:
        ctx.problem(("server", "http", "auth", "jwks_url"), "the issuer's keys must come over https (plain http "
                    "only from loopback)", show(auth.jwks_url), "use the https:// URL, or pin the keys with jwks_file")


def check_workers(scaling: ScalingSpec, scaling_node: Mapping[str, Any], server: ServerSpec,
                  telemetry: Mapping[str, Any], ctx: SpecContext) -> None:
    """What worker processes (`scaling.workers`, `serve --workers`) need from the rest of the file."""
    workers = scaling.workers
    if workers is None:
        return
    path = ("scaling", "workers")
    if workers.min > workers.max:
        ctx.problem((*path, "min"), f"min must not be more than max ({workers.max})", show(workers.min))
        return
    node = scaling_node.get("workers")
    if not workers.autoscaled and isinstance(node, Mapping):
        for key in ("cooldown", "in_flight", "cpu"):
            if key in node:
                ctx.problem((*path, key), f"{key} is an autoscaling setting, and autoscaling is off when min equals "
                            f"max ({workers.max})", show(node[key]),
                            f"remove {key}, or set max above min")
    if server.transport != "http":
        ctx.problem(path, "worker processes serve the http transport only (stdio has one client)", show(workers.max),
                    "set server.transport: http, or serve with --transport http")
    if telemetry.get("listen"):
        ctx.problem(path, "telemetry.listen would be bound by every worker; with workers, /metrics, /healthz and "
                    "/readyz are served on the HTTP listener", show(workers.max), "remove telemetry.listen")


def check_alerts(scaling: ScalingSpec, telemetry: Mapping[str, Any], ctx: SpecContext) -> None:
    """`telemetry.alerts` fire when a target turns violated or recovers: without targets they never would."""
    if telemetry.get("alerts") and not (scaling.has_call_targets or scaling.max_memory is not None):
        ctx.problem(("telemetry", "alerts"), "alerts are sent when a scaling target is violated or recovers, and "
                    "no target is declared", f"{len(telemetry['alerts'])} webhook(s)",
                    "declare scaling.targets (p95_latency, error_rate or max_memory), or remove telemetry.alerts")
