"""`--html FILE`: the report as one self-contained page, readable offline: no script, no stylesheet or
font fetched, the charts drawn as inline SVG from the per-second timeline (latency percentiles,
throughput, errors, the server's memory), then the tables of the text summary."""

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
    title = f"webmcp bench: {report['target']['endpoint']}"
    headline = (f"{report['scenario']['model']} model · {report['calls']:,} calls · "
                f"{report['error_rate']:.2%} errors · {report['throughput']:,.1f} calls/s · "
                f"p95 {report['latency_ms']['p95']:g} ms · "
                f"started {report['started']}")
    text = summary(report) + ("\n" + verdicts if verdicts else "")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em;max-width:{WIDTH + 40}px}}
pre{{background:#f6f6f6;padding:1em;overflow-x:auto}}svg{{display:block;margin:0 0 1.5em}}
h2{{font-size:15px;margin:1.2em 0 .3em}}.legend span{{margin-right:1em}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(headline)}</p>
{''.join(charts)}
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
