"""command tool: runs a program with an argv template. Never through a shell.

Contract: the child gets its own process group and is killed (group-wide) on timeout, cancellation
or server shutdown; stdout is captured up to `max_output` (the rest is drained and dropped); a
non-zero exit is an `isError` result carrying the tail of stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any, Literal

import orjson

from webmcp.call.results import error_result, from_value, text_result
from webmcp.callpath.tool import Tool
from webmcp.config.marked_yaml import Path
from webmcp.config.registry import Kind, register
from webmcp.config.spec import SpecContext
from webmcp.config.templates import Template, stringify
from webmcp.config.tools import ToolSpec
from webmcp.config.units import parse_size
from webmcp.config.validate import show
from webmcp.config.value_templates import string_map, template_input

if TYPE_CHECKING:
    from webmcp.call.context import Context
    from webmcp.kinds.contract import BuildContext


@dataclass(frozen=True, slots=True)
class CommandToolSpec(ToolSpec):
    argv: tuple[str, ...]
    cwd: str
    env: Mapping[str, str]
    inherit_env: bool
    max_output: int
    stderr_tail: int
    stdout: Literal["text", "json"]

    @classmethod
    def from_config(cls, name: str, node: Mapping[str, Any], path: Path, ctx: SpecContext) -> CommandToolSpec:
        common = ToolSpec.common(name, node, path, ctx)
        env = string_map(node.get("env"), (*path, "env"), ctx)
        common["input_schema"] = template_input([node["argv"], env], common["input_schema"], path, ctx)
        if "{" in node["argv"][0].replace("{{", ""):
            ctx.problem((*path, "argv", 0), "the program cannot come from an argument", show(node["argv"][0]),
                        "name a fixed program; pass arguments as later items")
        return cls(
            **common,
            argv=tuple(node["argv"]),
            cwd=str(ctx.base_dir / node.get("cwd", ".")),
            env=env,
            inherit_env=node.get("inherit_env", True),
            max_output=parse_size(node.get("max_output", "1MiB")),
            stderr_tail=parse_size(node.get("stderr_tail", "4KiB")),
            stdout=node.get("stdout", "text"),
        )


class CommandBackend:
    def __init__(self, spec: CommandToolSpec) -> None:
        self.spec = spec
        self._argv = [Template.parse(a) for a in spec.argv]
        self._env = {k: Template.parse(v) for k, v in spec.env.items()}
        self._running: set[asyncio.subprocess.Process] = set()

    def kill_all(self) -> None:
        """At graph close: no child outlives the server, whatever path the shutdown took."""
        for proc in list(self._running):
            _kill_group(proc)

    def argv(self, args: Mapping[str, Any]) -> list[str]:
        out: list[str] = []
        for t in self._argv:
            whole = t.whole
            if whole is not None:
                value = args.get(whole)
                if value is None:
                    continue
                if isinstance(value, list):
                    out.extend(stringify(v) for v in value)
                    continue
            out.append(t.render(args))
        return out

    async def invoke(self, arguments: dict[str, Any], ctx: Context) -> dict[str, Any]:
        spec = self.spec
        rendered = {k: t.render(arguments) for k, t in self._env.items()}
        argv = self.argv(arguments)
        refused = _nul_in(argv, rendered, arguments)
        if refused is not None:
            return error_result(f"Tool {spec.name!r}: {refused}")
        env = dict(os.environ) if spec.inherit_env else {}
        env.update(rendered)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, cwd=spec.cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True,
            )
        except OSError as exc:
            return error_result(f"Tool {spec.name!r} could not start {argv[0]!r}: {exc.strerror or exc}")
        self._running.add(proc)
        try:
            (out, truncated), err = await asyncio.gather(
                _read_capped(proc.stdout, spec.max_output), _read_tail(proc.stderr, spec.stderr_tail)
            )
            code = await proc.wait()
        except BaseException:
            _kill_group(proc)
            with contextlib.suppress(Exception):
                await asyncio.shield(proc.wait())
            raise
        finally:
            self._running.discard(proc)
        if code != 0:
            tail = err.decode(errors="replace").strip()
            what = f"exited with code {code}" if code > 0 else f"was killed by signal {-code}"
            return error_result(f"Command {argv[0]!r} {what}" + (f"\nstderr:\n{tail}" if tail else ""))
        text = out.decode(errors="replace")
        if spec.stdout == "json":
            if truncated:
                return error_result(f"Command {argv[0]!r} printed more than {spec.max_output} bytes of JSON")
            try:
                return from_value(orjson.loads(out))
            except orjson.JSONDecodeError as exc:
                return error_result(f"Command {argv[0]!r} did not print JSON: {exc}")
        if truncated:
            text += f"\n[output truncated at {spec.max_output} bytes]"
        return text_result(text)


def _nul_in(argv: list[str], env: Mapping[str, str], arguments: Mapping[str, Any]) -> str | None:
    """Why the command cannot run when a NUL byte reached its argv or env, else None. The OS takes C strings:
    uvloop would cut the value at the NUL (`--file=report\\0-evil` runs as `--file=report`), asyncio refuses."""
    where = next((f"argv[{i}]" for i, a in enumerate(argv) if "\0" in a), None)
    where = where or next((f"env {k}" for k, v in env.items() if "\0" in v), None)
    if where is None:
        return None
    names = ", ".join(repr(k) for k, v in arguments.items() if _has_nul(v)) or "a value"
    return f"argument {names} contains a NUL byte, which a command's {where} cannot carry; nothing was run"


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\0" in value
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


async def _read_capped(stream: asyncio.StreamReader | None, cap: int) -> tuple[bytes, bool]:
    assert stream is not None
    chunks: list[bytes] = []
    size = 0
    truncated = False
    while chunk := await stream.read(65536):
        if size < cap:
            chunks.append(chunk[: cap - size])
        truncated = truncated or size + len(chunk) > cap
        size += len(chunk)
    return b"".join(chunks), truncated


async def _read_tail(stream: asyncio.StreamReader | None, keep: int) -> bytes:
    assert stream is not None
    tail = b""
    while chunk := await stream.read(65536):
        tail = (tail + chunk)[-keep:] if keep else b""
    return tail


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


async def build(spec: CommandToolSpec, ctx: BuildContext) -> Tool:
    if not FsPath(spec.cwd).is_dir():
        raise ctx.fail(spec.where, "cwd is not a folder", spec.cwd)
    assert spec.input_schema is not None
    if spec.output_schema is not None and spec.stdout == "text":
        raise ctx.fail(spec.where, "output: needs `stdout: json` (text output has no structured content)")
    backend = CommandBackend(spec)
    ctx.on_close(backend.kill_all)
    return Tool(spec, backend, spec.input_schema, None, ctx.error_details)


KIND = register(Kind("tools", "command", CommandToolSpec, build))
