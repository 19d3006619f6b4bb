"""`--html FILE`: the report as one self-contained page, readable offline: no script, no stylesheet or
font fetched, the charts drawn as inline SVG from the per-second timeline (latency percentiles,
throughput, errors, the server's memory); for `--stress`, the steps as a table and a chart of
throughput and p95 per step; then the tables of the text summary (per tool, per stage)."""

from __future__ import annotations

import html
from typing import Any

from webmcp.loadtest.report import summary

WIDTH, HEIGHT, PAD = 720, 180, 40
COLOURS = ("#1f77b4", "#ff7f0e", "#d62728", "#2ca02c")


def render(report: dict[str, Any], verdicts: str = "") -> str:
    timeline = report.get("timeline", [])
    charts = [
        _chart("Latency (ms)", timeline, ("p50", "p95", "p99")),
        _chart("Throughput (calls/s)", timeline, ("calls",)),
        _chart("Errors (per second)", timeline, ("errors",)),
    ]
    if any("rss_mb" in row for row in timeline):
        charts.append(_chart("Server memory (RSS, MB)", timeline, ("rss_mb",)))
    stress = _stress(report["stress"]) if report.get("stress") else ""
    title = f"webmcp bench: {report['target']['endpoint']}"
    headline = (f"{report['scenario']['model']} model · {report['calls']:,} calls · "
                f"{report['error_rate']:.2%} errors · {report['throughput']:,.1f} calls/s · "
                f"p95 {report['latency_ms']['p95']:g} ms · "
                f"started {report['started']}")
    text = summary(report) + ("\n" + verdicts if verdicts else "")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em;max-width:{WIDTH + 40}px}}
pre{{background:#f6f6f6;padding:1em;overflow-x:auto}}table{{border-collapse:collapse}}
td,th{{padding:2px 8px;text-align:right;border-bottom:1px solid #ddd}}.broke{{color:#d62728}}
svg{{display:block;margin:0 0 1.5em}}
h2{{font-size:15px;margin:1.2em 0 .3em}}.legend span{{margin-right:1em}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(headline)}</p>
{''.join(charts)}
{stress}
<h2>Summary</h2><pre>{html.escape(text)}</pre>
</body></html>
"""


def _chart(title: str, timeline: list[dict[str, Any]], keys: tuple[str, ...]) -> str:
    points = [(float(row["t"]), [float(row.get(key) or 0.0) for key in keys]) for row in timeline]
    legend = "".join(f'<span style="color:{COLOURS[i]}">■ {html.escape(key)}</span>' for i, key in enumerate(keys))
    head = f'<h2>{html.escape(title)}</h2><div class="legend">{legend}</div>'
    if not points:
        return head + "<p>no data</p>"
    t_max = max(t for t, _ in points) or 1.0
    y_max = max(max(values) for _, values in points) or 1.0
    plot_w, plot_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def xy(t: float, value: float) -> str:
        return f"{PAD + plot_w * t / t_max:.1f},{PAD + plot_h * (1 - value / y_max):.1f}"

    lines = []
    for i in range(len(keys)):
        path = " ".join(xy(t, values[i]) for t, values in points)
        lines.append(f'<polyline fill="none" stroke="{COLOURS[i]}" stroke-width="1.5" points="{path}"/>')
    axes = (f'<line x1="{PAD}" y1="{PAD + plot_h}" x2="{PAD + plot_w}" y2="{PAD + plot_h}" stroke="#999"/>'
            f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{PAD + plot_h}" stroke="#999"/>'
            f'<text x="{PAD - 4}" y="{PAD + 4}" text-anchor="end" font-size="11">{y_max:,.4g}</text>'
            f'<text x="{PAD - 4}" y="{PAD + plot_h}" text-anchor="end" font-size="11">0</text>'
            f'<text x="{PAD + plot_w}" y="{HEIGHT - 8}" text-anchor="end" font-size="11">{t_max:,.0f} s</text>')
    return (f'{head}<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'role="img" aria-label="{html.escape(title)}">{axes}{"".join(lines)}</svg>')


def _stress(stress: dict[str, Any]) -> str:
    """The steps of a stress run: a chart of throughput and p95 by step, and one row per step."""
    steps = stress["steps"]
    by_step = [{"t": step["index"] + 1, "calls/s": step["throughput"], "p95 ms": step["latency_ms"]["p95"]}
               for step in steps]
    charts = _chart("Stress steps: throughput (calls/s) by step", by_step, ("calls/s",)) + _chart(
        "Stress steps: p95 (ms) by step", by_step, ("p95 ms",))
    rows = []
    for step in steps:
        mark = ' class="broke"' if not step["held"] else ""
        rows.append(f"<tr{mark}><td>{step['index'] + 1}</td><td>{step['load']:g}</td>"
                    f"<td>{step['throughput']:,.1f}</td><td>{step['latency_ms']['p95']:g}</td>"
                    f"<td>{step['error_rate']:.2%}</td><td>{'held' if step['held'] else 'broke'}</td>"
                    f"<td style=\"text-align:left\">{html.escape(step['signal'] or '')}</td></tr>")
    good, broke = stress.get("last_good"), stress.get("breaking_point")
    verdict = (f"last good: {good['load']:g}" if good else "no step held") + (
        f" · breaking point: {broke['load']:g} ({html.escape(broke['signal'] or '')})" if broke else
        " · no step broke")
    return (f"<h2>Stress</h2><p>{verdict}</p>{charts}<table><tr><th>step</th><th>load</th><th>calls/s</th>"
            f"<th>p95 ms</th><th>errors</th><th>verdict</th><th>signal</th></tr>{''.join(rows)}</table>")
