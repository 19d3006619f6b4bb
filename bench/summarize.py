"""Print webmcp's figures next to the peers' from one peerbench run, and check the stdio and HTTP targets.

    python bench/summarize.py bench/results/<stamp>

Reads the run's summary.json (medians over reps) and raw.jsonl (per-rep values, for the ratio to
sdk-lowlevel, computed within each rep like peerbench's own xlimit). Standard library only.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import sys
from pathlib import Path
from typing import Any

OURS = "webmcp"
LIMIT = "minimal"
PEER = "sdk-lowlevel"

# (label, check) for the stdio targets
TARGETS = {
    "seq": "seq calls/s ≥ 0.8 x minimal",
    "pipe": "pipe64 calls/s ≥ 20 x sdk-lowlevel",
    "cold": "cold start (spawn → initialize reply) ≤ 300 ms",
    "rss": "RSS after the run ≤ 45 MB",
}


def fmt(x: Any, nd: int = 0) -> str:
    if x is None:
        return "-"
    return f"{x:,.{nd}f}"


def per_rep_ratio(raw: list[dict[str, Any]], a: str, b: str, phase: str) -> list[float]:
    reps: dict[int, dict[str, dict[str, Any]]] = {}
    for r in raw:
        if "error" not in r:
            reps.setdefault(r["rep"], {})[r["name"]] = r
    out = []
    for by in reps.values():
        with contextlib.suppress(KeyError, TypeError, ZeroDivisionError):
            out.append(by[a][phase]["calls_s"] / by[b][phase]["calls_s"])
    return out


def main() -> int:
    run = Path(sys.argv[1])
    doc = json.loads((run / "summary.json").read_text())
    summary: dict[str, Any] = doc["summary"]
    raw = [json.loads(line) for line in (run / "raw.jsonl").read_text().splitlines() if line.strip()]
    meta = doc["meta"]

    stdio = [n for n, s in summary.items() if s["transport"] == "stdio"]
    order = [n for n in (OURS, LIMIT, PEER) if n in stdio] + [n for n in stdio if n not in (OURS, LIMIT, PEER)]
    print(f"run {meta['started_utc']}: {meta['args']['reps']} rep(s), {meta['wall_s']:.0f} s, "
          f"{meta['env']['cpus']} CPUs, Python {meta['env']['python']}; calibration ms {meta['calibration_ms']}")
    print()
    print("| server | load | calls/s | xminimal | spread | p50 µs | p99 µs | server CPU µs/call | RSS MB "
          "| cold start ms |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in order:
        s = summary[name]
        if not s["reps_ok"]:
            print(f"| {name} | - | FAILED: {'; '.join(s['errors'])[:100]} |||||||")
            continue
        for ph, label in (("seq", "seq"), ("pipe", f"pipe{meta['args']['window']}")):
            p = s[ph]
            spread = p.get("calls_s_spread")
            cells = [
                f"**{name}**" if name == OURS else name,
                label,
                fmt(p["calls_s"]),
                fmt(p["tput_vs_limit"], 3),
                "-" if spread is None else f"{spread * 100:.0f}%",
                fmt(p["p50_us"]),
                fmt(p["p99_us"]),
                fmt(p["server_cpu_us_per_call"]),
                fmt(s["rss_end_mb"], 1),
                fmt(s["cold_start_ms"]),
            ]
            print("| " + " | ".join(cells) + " |")
    bad = {n: s for n, s in summary.items() if s["errors"] or any(
        s.get(ph, {}).get("failed_calls") for ph in ("seq", "pipe", "c1", "c64"))}
    if bad:
        print()
        for n, s in bad.items():
            print(f"errors/failed calls: {n}: {s['errors']} "
                  f"{ {ph: s[ph]['failed_calls'] for ph in ('seq', 'pipe', 'c1', 'c64') if ph in s} }")

    checks = {c.get("name"): c for c in doc.get("sdk_check") or []}
    if OURS in checks:
        c = checks[OURS]
        seq = (c.get("seq") or {}).get("calls_s")
        print()
        conc = (c.get("conc") or {}).get("calls_s")
        status = "conformant" if c.get("conformant") else "NOT CONFORMANT " + str(c.get("error") or c.get("checks"))
        print(f"SDK-client cross-check (mcp.ClientSession) for {OURS}: {status}; "
              f"SDK client drives {fmt(seq)} calls/s seq, {fmt(conc)} at 64 concurrent")

    ours = summary.get(OURS)
    if not ours or not ours["reps_ok"]:
        print(f"\n{OURS} (stdio) produced no measurement; no stdio target check.")
        http_section(summary, raw)
        return 0 if HTTP_OURS in summary else 1
    print()
    print("| target | measured | status |")
    print("|---|---:|---|")

    def row(key: str, measured: str, ok: bool | None) -> None:
        status = "n/a (not measured in this run)" if ok is None else ("met" if ok else "**not met**")
        print(f"| {TARGETS[key]} | {measured} | {status} |")

    r = ours["seq"]["tput_vs_limit"]
    row("seq", f"{fmt(r, 3)} x minimal", None if r is None else r >= 0.8)
    ratios = per_rep_ratio(raw, OURS, PEER, "pipe")
    if ratios:
        r = statistics.median(ratios)
        reps = ", ".join(f"{x:.1f}" for x in ratios)
        row("pipe", f"{r:.1f} x {PEER} (per rep: {reps})", r >= 20)
    else:
        row("pipe", "-", None)
    cs = ours["cold_start_ms"]
    row("cold", f"{fmt(cs)} ms", None if cs is None else cs <= 300)
    rss = ours["rss_end_mb"]
    row("rss", f"{fmt(rss, 1)} MB", None if rss is None else rss <= 45)
    if meta["args"]["reps"] < 3:
        print(f"\n(only {meta['args']['reps']} rep: the seq ratio to minimal swings widely on a shared VM; "
              "judge targets on a full run)")
    http_section(summary, raw)
    print()
    print(f"full report (all targets, HTTP rows, SDK-client table): {run / 'report.md'}")
    return 0


HTTP_OURS = "webmcp/stateless-json"
HTTP_PEER = "sdk-lowlevel/stateless-json"
HTTP_LIMIT = "minimal-aiohttp"  # driven by the same client as webmcp in the same run


def http_section(summary: dict[str, Any], raw: list[dict[str, Any]]) -> None:
    """HTTP rows (c1, c64) and the HTTP targets: c64 ≥ 5 x sdk-lowlevel and ≥ 0.7 x minimal-aiohttp."""
    names = [n for n, s in summary.items() if s["transport"] == "http" and s["reps_ok"]]
    if HTTP_OURS not in names:
        return
    print()
    print("| server (HTTP) | load | calls/s | p50 µs | p99 µs | server CPU µs/call | RSS MB | cold start ms |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name in sorted(names, key=lambda n: (not n.startswith(OURS), n)):
        s = summary[name]
        for ph in ("c1", "c64"):
            p = s[ph]
            cells = [f"**{name}**" if name.startswith(OURS) else name, ph, fmt(p["calls_s"]), fmt(p["p50_us"]),
                     fmt(p["p99_us"]), fmt(p["server_cpu_us_per_call"]), fmt(s["rss_end_mb"], 1),
                     fmt(s["cold_start_ms"])]
            print("| " + " | ".join(cells) + " |")
    print()
    print("| HTTP target | measured | status |")
    print("|---|---:|---|")
    for other, floor in ((HTTP_PEER, 5.0), (HTTP_LIMIT, 0.7)):
        ratios = per_rep_ratio(raw, HTTP_OURS, other, "c64")
        label = f"c64 calls/s (stateless JSON) ≥ {floor:g} x {other}"
        if not ratios:
            print(f"| {label} | - | n/a (not measured in this run) |")
            continue
        r = statistics.median(ratios)
        reps = ", ".join(f"{x:.2f}" for x in ratios)
        print(f"| {label} | {r:.2f} x (per rep: {reps}) | {'met' if r >= floor else '**not met**'} |")


if __name__ == "__main__":
    sys.exit(main())
