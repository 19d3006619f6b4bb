"""Start-up cost of webmcp over stdio, next to the hand-written minimal MCP server (peerbench's reference).

    .venv/bin/python bench/startup.py [--reps 15] [--json] [--binary build/dist/webmcp ...]
    .venv/bin/python bench/startup.py --embedding        # also the first embedding, onnx backend
    .venv/bin/python bench/startup.py --importtime       # what webmcp imports before its first reply

Per target and repetition, a fresh process: spawn -> one `initialize` request line -> its reply line
(timed), then `notifications/initialized`, `tools/list` and one `tools/call`, then the peak RSS
(VmHWM from /proc, summed over the process and its children) before stdin is closed and the process
exits; the `tools/call` is timed too (request -> reply). Targets: `webmcp serve -c webmcp.yaml` (the
README's example, tool `text`, operation `count`), peerbench's `servers/minimal_stdio.py` (tool `echo`)
and, if present, the one-file binaries (build/dist/webmcp, and build/dist/webmcp-embed, which carries the
onnx backend). With `--embedding`, webmcp and webmcp-embed also serve a config of one onnx model (the test
model exported by bench/onnx_model.py, loaded at the first call) and one `kind: embedding` tool: their
tools/call time is the first embedding, model load included. The repetitions are interleaved (the order
rotates every rep) after one unmeasured warm-up per target.

By default the servers run without PYTHONDONTWRITEBYTECODE and with PYTHONPYCACHEPREFIX set to a
temporary folder, so every target starts from warm .pyc files (written by the warm-up) without writing
into the source trees; `--keep-env` runs them with this environment unchanged.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PEERBENCH = Path(os.environ.get("PEERBENCH", REPO.parent / "shared" / "peerbench"))
PROTOCOL = "2025-11-25"
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": PROTOCOL, "capabilities": {},
                         "clientInfo": {"name": "bench-startup", "version": "1"}}}


@dataclass
class Target:
    name: str
    cmd: list[str]
    tool: str
    arguments: dict[str, Any]
    ms: list[float] = field(default_factory=list)
    call_ms: list[float] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)


class Stdio:
    """Newline-delimited JSON-RPC over a child's stdin/stdout, every read bounded by a deadline."""

    def __init__(self, proc: subprocess.Popen[bytes], timeout: float) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        self.proc, self.stdin, self.fd, self.timeout, self.buf = proc, proc.stdin, proc.stdout.fileno(), timeout, b""
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.fd, selectors.EVENT_READ)

    def send(self, msg: dict[str, Any]) -> None:
        self.stdin.write(json.dumps(msg).encode() + b"\n")
        self.stdin.flush()

    def reply(self, mid: int) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while True:
            while b"\n" in self.buf:
                line, _, self.buf = self.buf.partition(b"\n")
                try:
                    msg = json.loads(line) if line.strip() else None
                except ValueError:
                    raise RuntimeError(f"not JSON-RPC on stdout: {line[:120]!r}") from None
                if isinstance(msg, dict) and msg.get("id") == mid and "method" not in msg:
                    if "result" not in msg:
                        raise RuntimeError(f"request {mid} failed: {msg.get('error')}")
                    return msg["result"]  # type: ignore[no-any-return]
            left = deadline - time.monotonic()
            if left <= 0 or not self.selector.select(left):
                raise TimeoutError(f"no reply to request {mid} within {self.timeout:g} s")
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                raise EOFError(f"stdout closed before the reply to request {mid} (exit code {self.proc.wait(1)})")
            self.buf += chunk


def vm_hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_peak_rss_kb(pid: int) -> int:
    """VmHWM of the process plus its descendants' (a one-file binary's bootloader runs the server as a child)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rpartition(")")[2].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        total += vm_hwm_kb(p)
    return total


def run_once(target: Target, env: dict[str, str], timeout: float, python_flags: list[str] | None = None,
             ) -> tuple[float, float, int, str]:
    """One fresh server: (ms to the initialize reply, ms of the tools/call, peak RSS kB, stderr). Exits with its
    stderr tail on failure."""
    cmd = target.cmd if python_flags is None else [target.cmd[0], *python_flags, *target.cmd[1:]]
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, cwd=REPO, env=env,
                                start_new_session=True)  # its own process group: a failure kills its children too
        try:
            io = Stdio(proc, timeout)
            io.send(INITIALIZE)
            init = io.reply(1)
            ms = (time.perf_counter() - started) * 1e3
            if init.get("protocolVersion") != PROTOCOL:
                raise RuntimeError(f"initialize answered protocolVersion {init.get('protocolVersion')!r}")
            io.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
            io.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
            if target.tool not in {t["name"] for t in io.reply(2)["tools"]}:
                raise RuntimeError(f"tools/list has no tool {target.tool!r}")
            called = time.perf_counter()
            io.send({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                     "params": {"name": target.tool, "arguments": target.arguments}})
            result = io.reply(3)
            call_ms = (time.perf_counter() - called) * 1e3
            if result.get("isError"):
                raise RuntimeError(f"tools/call {target.tool} returned an error: {result.get('content')}")
            rss = tree_peak_rss_kb(proc.pid)
            io.stdin.close()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                raise TimeoutError(f"did not exit within {timeout:g} s of stdin closing") from None
        except Exception as exc:  # a failed or hung server: say which one and why, leave nothing running
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            err.seek(0)
            tail = err.read().decode(errors="replace").strip().splitlines()[-15:]
            sys.exit(f"bench/startup.py: {target.name} ({' '.join(cmd)}): {exc}\n  stderr:\n    "
                     + "\n    ".join(tail or ["(empty)"]))
        finally:
            if proc.stdout is not None:
                proc.stdout.close()
        err.seek(0)
        return ms, call_ms, rss, err.read().decode(errors="replace")


def child_env(keep: bool, pycache: str) -> dict[str, str]:
    env = dict(os.environ)
    if not keep:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
    return env


def top_packages(importtime: str, top: int) -> tuple[list[dict[str, Any]], float, int]:
    """`-X importtime` lines -> per top-level package: cumulative ms (its entry points, dependencies
    included), self ms (its own modules only), module count; and the total import time, module count."""
    entries: list[tuple[int, int, int, str]] = []  # depth, self us, cumulative us, module
    for line in importtime.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        head, cumulative, name = line.split("|", 2)  # "import time: <self> | <cumulative> | <2*depth spaces><name>"
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        entries.append((depth, int(head.removeprefix("import time:")), int(cumulative), name.strip()))
    packages: dict[str, dict[str, Any]] = {}
    stack: list[tuple[int, str]] = []  # enclosing imports: entries are printed children first, so walk backwards
    for depth, self_us, cum_us, module in reversed(entries):
        while stack and stack[-1][0] >= depth:
            stack.pop()
        pkg = module.split(".")[0]
        row = packages.setdefault(pkg, {"package": pkg, "cumulative_ms": 0.0, "self_ms": 0.0, "modules": 0})
        if all(p != pkg for _, p in stack):  # an entry point into pkg: its cumulative time is pkg's (and deps')
            row["cumulative_ms"] += cum_us / 1e3
        row["self_ms"] += self_us / 1e3
        row["modules"] += 1
        stack.append((depth, pkg))
    for row in packages.values():
        name = row["package"]
        row["kind"] = ("stdlib" if name in sys.stdlib_module_names else "webmcp" if name == "webmcp"
                       else "install hook (.pth)" if name.startswith(("__editable__", "_distutils_hack"))
                       else "third-party")
    rows = sorted(packages.values(), key=lambda r: -r["cumulative_ms"])[:top]
    total = sum(cum for depth, _, cum, _ in entries if depth == 0) / 1e3
    return rows, total, len(entries)


def importtime_report(a: argparse.Namespace, webmcp: Target, env: dict[str, str]) -> None:
    python = Path(a.python)
    target = Target("webmcp -X importtime", [str(python), "-m", "webmcp", "serve", "-c", "webmcp.yaml"],
                    webmcp.tool, webmcp.arguments)
    run_once(target, env, a.timeout)  # warm-up: writes the .pyc files, so compiling is not counted
    ms, _, _, stderr = run_once(target, env, a.timeout, ["-X", "importtime"])
    rows, total, modules = top_packages(stderr, a.top)
    if a.json:
        print(json.dumps({"cmd": [target.cmd[0], "-X", "importtime", *target.cmd[1:]], "initialize_ms": ms,
                          "total_import_ms": total, "modules": modules, "top": rows}, indent=2))
        return
    print(f"{python} -X importtime -m webmcp serve -c webmcp.yaml, up to the initialize reply:")
    print(f"{modules} modules imported, {total:.1f} ms of import time (initialize reply after {ms:.0f} ms, "
          "inflated by -X importtime)")
    print("cumulative = the package's own imports with everything they pull in (overlaps between rows); "
          "self = its modules only")
    width = max(len("package"), *(len(row["package"]) for row in rows))
    print(f"{'#':>3} {'package':<{width}} {'cumulative ms':>13} {'self ms':>8} {'modules':>7}  kind")
    for i, row in enumerate(rows, 1):
        print(f"{i:>3} {row['package']:<{width}} {row['cumulative_ms']:>13.1f} {row['self_ms']:>8.1f} "
              f"{row['modules']:>7}  {row['kind']}")


def embedding_targets(webmcp: Target, embed_binaries: list[Target]) -> list[Target]:
    """webmcp and each onnx-carrying binary serving one onnx model, loaded at the first call: that call's time
    is the first embedding. The config is written next to the exported model (kept between runs)."""
    from onnx_model import onnx_model

    folder = onnx_model()
    config = folder.parent / f"{folder.name}.webmcp.yaml"
    config.write_text(f"""version: 1
profile: none
models:
  minilm: {{path: "{folder}", backend: onnx, device: cpu, threads: 2}}
tools:
  embed: {{kind: embedding, model: minilm}}
""")
    text = {"text": "A man is eating food."}
    return [Target(f"{t.name}+onnx", [t.cmd[0], "serve", "-c", str(config)], "embed", text)
            for t in (webmcp, *embed_binaries)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=15, help="interleaved repetitions per target (default 15)")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for any reply or exit (default 10)")
    found = [str(p) for p in (REPO / ".venv/bin/webmcp", Path(sys.executable).parent / "webmcp") if p.exists()]
    ap.add_argument("--webmcp", default=os.environ.get("WEBMCP") or (found[0] if found else shutil.which("webmcp")),
                    help="webmcp executable (default: $WEBMCP, else .venv/bin/webmcp, else the one next to this "
                    "python, else webmcp on PATH)")
    venv = Path(os.environ.get("VENV", Path.home() / ".cache/webmcp-peerbench-venv"))
    ap.add_argument("--minimal-python", default=str(venv / "bin/python") if (venv / "bin/python").exists()
                    else sys.executable, help="interpreter of the minimal server (needs orjson; default: the "
                    "peerbench venv's python if it exists, else this one)")
    binaries = [str(p) for p in (REPO / "build/dist/webmcp", REPO / "build/dist/webmcp-embed") if p.exists()]
    ap.add_argument("--binary", action="append", help="also measure this one-file binary; repeat for more "
                    "(default: build/dist/webmcp and build/dist/webmcp-embed, those that exist)")
    ap.add_argument("--embedding", action="store_true", help="also time the first embedding (onnx backend) of "
                    "webmcp and of a binary named webmcp-embed; exports the test model once (make test's venv)")
    ap.add_argument("--keep-env", action="store_true",
                    help="run the servers with this environment as is (no PYTHONPYCACHEPREFIX, see above)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--importtime", action="store_true",
                    help="instead: run webmcp once under -X importtime and list the slowest top-level packages")
    ap.add_argument("--python", help="interpreter for --importtime (default: the python next to the webmcp "
                    "executable, else this one)")
    ap.add_argument("--top", type=int, default=25, help="rows of the --importtime list (default 25)")
    a = ap.parse_args()
    if a.reps < 1:
        ap.error("--reps must be at least 1")
    if not a.webmcp or not Path(a.webmcp).exists():
        ap.error("no webmcp executable (set --webmcp or WEBMCP, or create .venv with `make lint`)")
    if a.python is None:
        beside = Path(a.webmcp).parent / "python"
        a.python = str(beside) if beside.exists() else sys.executable
    minimal_server = PEERBENCH / "servers" / "minimal_stdio.py"
    if not minimal_server.exists():
        ap.error(f"peerbench's minimal server was not found at {minimal_server} (set PEERBENCH=<dir>)")

    count = {"operation": "count", "text": "the quick brown fox"}
    webmcp = Target("webmcp", [a.webmcp, "serve", "-c", "webmcp.yaml"], "text", count)
    targets = [webmcp, Target("minimal", [a.minimal_python, str(minimal_server)], "echo", {"text": "hello"})]
    for binary in a.binary or binaries:  # build/dist/webmcp-embed is target "binary-embed"
        name = "binary" + Path(binary).name.removeprefix("webmcp")
        targets.append(Target(name, [binary, "serve", "-c", "webmcp.yaml"], "text", count))
    if a.embedding:
        targets += embedding_targets(webmcp, [t for t in targets if t.name.startswith("binary-embed")])

    with tempfile.TemporaryDirectory(prefix="webmcp-bench-pycache-") as pycache:
        env = child_env(a.keep_env, pycache)
        if a.importtime:
            importtime_report(a, webmcp, env)
            return
        load = os.getloadavg()[0]
        for t in targets:
            run_once(t, env, a.timeout)  # warm-up: page cache, .pyc files; also checks every target answers
        for rep in range(a.reps):
            for t in targets[rep % len(targets):] + targets[:rep % len(targets)]:
                ms, call_ms, rss, _ = run_once(t, env, a.timeout)
                t.ms.append(ms)
                t.call_ms.append(call_ms)
                t.rss_kb.append(rss)

    base = targets[1]
    results: dict[str, dict[str, Any]] = {}
    for t in targets:
        median_ms, rss_mb = statistics.median(t.ms), statistics.median(t.rss_kb) / 1024
        results[t.name] = {"cmd": t.cmd, "median_ms": median_ms, "min_ms": min(t.ms), "max_ms": max(t.ms),
                           "call_median_ms": statistics.median(t.call_ms), "call_ms": t.call_ms,
                           "peak_rss_mb": rss_mb, "ms": t.ms, "peak_rss_kb": t.rss_kb,
                           "x_minimal_ms": median_ms / statistics.median(base.ms),
                           "x_minimal_rss": rss_mb / (statistics.median(base.rss_kb) / 1024)}
    if a.json:
        print(json.dumps({"reps": a.reps, "protocol": PROTOCOL, "pycache_prefix": not a.keep_env,
                          "load_average_1min": [load, os.getloadavg()[0]], "targets": results}, indent=2))
        return
    print(f"stdio start-up: spawn -> initialize reply; peak RSS (VmHWM) after initialize, tools/list, one "
          f"tools/call; {a.reps} interleaved reps after a warm-up, medians (1-min load average {load:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after); call ms: that tools/call, request -> reply (on +onnx rows the first "
          f"embedding, model load included)")
    for t in targets:
        print(f"  {t.name}: {' '.join(t.cmd)}")
    width = max(len(t.name) for t in targets)
    print(f"{'target':<{width}} {'median ms':>9} {'min ms':>7} {'max ms':>7} {'x minimal':>9} {'call ms':>8} "
          f"{'peak RSS MB':>11} {'x minimal':>9}")
    for name, r in results.items():
        print(f"{name:<{width}} {r['median_ms']:>9.1f} {r['min_ms']:>7.1f} {r['max_ms']:>7.1f} "
              f"{r['x_minimal_ms']:>9.2f} {r['call_median_ms']:>8.1f} {r['peak_rss_mb']:>11.1f} "
              f"{r['x_minimal_rss']:>9.2f}")
    w = results["webmcp"]
    print(f"webmcp / minimal: {w['x_minimal_ms']:.2f}x start-up time, {w['x_minimal_rss']:.2f}x peak RSS")


if __name__ == "__main__":
    main()
