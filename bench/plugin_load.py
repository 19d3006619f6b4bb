"""What loading a plugin kind costs: the sample plugin of examples/webmcp-greeting (< 1 min).

    .venv/bin/python bench/plugin_load.py

The plugin is pip-installed into a temporary folder (put on PYTHONPATH, as the tests do). Each round runs in a
fresh interpreter, so every import is cold for Python (the OS file cache is warm after the first round):

- discovery: `config.plugins.available()`, reading every installed package's metadata for `webmcp.kinds`
  entry points (nothing imported), importlib.metadata's own import included;
- import: `load_kind` for `greeting`: the plugin module imported (it registers its Kind), its SCHEMA checked
  against the JSON Schema metaschema and added;
- load: `webmcp.kinds.imports.load()` of a one-tool config using `kind: greeting`, minus the same config with
  `kind: static` (the schema check is not memoized for either): what a config pays for using a plugin kind.

Figures are medians of ROUNDS rounds (PLUGIN_BENCH_ROUNDS, default 15), in ms.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROUNDS = int(os.environ.get("PLUGIN_BENCH_ROUNDS", "15"))

PROBE = r"""
import json, sys, time
t0 = time.perf_counter()
import webmcp.kinds.imports  # the built-in kinds declared, as every command does
from webmcp.config import plugins
t1 = time.perf_counter()
found = {(p.section, p.name): p for p in plugins.available()}
t2 = time.perf_counter()
error = plugins.load_kind(found[("tools", "greeting")])
t3 = time.perf_counter()
assert error is None, error
print(json.dumps({"discovery": (t2 - t1) * 1000, "import": (t3 - t2) * 1000}))
"""

LOAD = r"""
import json, sys, time
import webmcp.kinds.imports
from webmcp.kinds.imports import load
t0 = time.perf_counter()
load(sys.argv[1])
print(json.dumps({"load": (time.perf_counter() - t0) * 1000}))
"""


def run(code: str, env: dict[str, str], *args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def main() -> None:
    sys.path.insert(0, str(REPO))
    from tests.integration.plugins import install

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        site = install(folder)
        env = {**os.environ, "PYTHONPATH": str(site), "WEBMCP_CACHE_DIR": "off"}
        plugin_cfg = folder / "plugin.yaml"
        plugin_cfg.write_text("version: 1\nprofile: none\ntools:\n  hello: {kind: greeting}\n")
        static_cfg = folder / "static.yaml"
        static_cfg.write_text("version: 1\nprofile: none\ntools:\n  hello: {kind: static, content: hi}\n")
        figures: dict[str, list[float]] = {"discovery": [], "import": [], "load with plugin": [], "load built-in": []}
        for _ in range(ROUNDS):
            probe = run(PROBE, env)
            figures["discovery"].append(probe["discovery"])
            figures["import"].append(probe["import"])
            figures["load with plugin"].append(run(LOAD, env, str(plugin_cfg))["load"])
            figures["load built-in"].append(run(LOAD, env, str(static_cfg))["load"])
    med = {name: statistics.median(values) for name, values in figures.items()}
    print(f"plugin loading, medians of {ROUNDS} fresh interpreters (ms):")
    for name, value in med.items():
        print(f"  {name:18} {value:7.1f}")
    extra = med["load with plugin"] - med["load built-in"]
    print(f"  {'plugin cost':18} {extra:7.1f}   (load with plugin - load built-in; target < 100 ms)")


if __name__ == "__main__":
    main()
