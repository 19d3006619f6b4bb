"""A quick regression check of webmcp against the committed baseline, with `webmcp bench`.

    .venv/bin/python bench/regression.py            # `make bench-check`: compare with bench/baseline.json
    .venv/bin/python bench/regression.py --update   # measure again and commit the result as the baseline

Three 5-second runs of the echo tool over stdio (bench/echo.yaml, 8 clients each with a session), compared
with the baseline's three runs by `webmcp bench --baseline` (a Mann-Whitney test per metric). The gates are
generous on purpose: this machine is shared and its speed drifts, so only a gross regression (twice the
latency, half the throughput, +50% memory) fails, and only when all three runs show it. Exit 5 names the
metrics that regressed. The last report is kept in bench/results/regression.json.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
BASELINE = BENCH / "baseline.json"
TOLERANCES = ["latency=100%", "throughput=50%", "memory=50%", "errors=1%"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--update", action="store_true", help="write the measured report as the new baseline")
    a = ap.parse_args()
    out = BENCH / "results" / "regression.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "webmcp", "bench", "--tool", "echo", "--args", '{"text": "hello"}',
               "--concurrency", "8", "--duration", "5s", "--repeat", "3", "--json", str(out)]
    if not a.update:
        command += ["--baseline", str(BASELINE)] + [arg for t in TOLERANCES for arg in ("--tolerance", t)]
    command += ["--", sys.executable, "-m", "webmcp", "serve", "-c", str(BENCH / "echo.yaml"), "--log-level", "warning"]
    code = subprocess.run(command, cwd=BENCH).returncode
    if a.update and code == 0:
        shutil.copyfile(out, BASELINE)
        print(f"baseline written: {BASELINE}")
    return code


if __name__ == "__main__":
    sys.exit(main())
