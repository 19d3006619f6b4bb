"""`webmcp bench`: a load driver for any MCP server, over stdio or Streamable HTTP.

It depends on nothing of webmcp but the error root and the unit grammar (an import-linter contract
keeps it so): the server under test is a black box reached through the wire protocol.

- `scenario`: what to call (weighted tools, argument generators), how hard (stages), what must hold.
- `wire`: minimal JSON-RPC clients over stdio lines and HTTP (2025 sessions, 2026-07-28 sessionless).
- `workload`: the closed model (N virtual clients) and the open model (arrivals on a schedule).
- `record`: HdrHistograms per tool, per stage and per second; outcomes; the driver's own lag.
- `probe`: the server's memory and CPU (psutil), and the driver's CPU.
- `report`: the JSON report and the text summary; `gates`: thresholds and baseline verdicts.
- `live`: the progress view (rich on a terminal, plain lines otherwise); `run`: one run, end to end.
"""
