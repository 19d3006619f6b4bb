#!/usr/bin/env bash
# Measure webmcp (stdio, bench/echo.yaml) against the peer MCP servers with the peerbench harness
# in ../shared/peerbench, in the same run, and print webmcp's figures next to the peers'.
#
#   bench/run.sh                  # full run: 3 interleaved reps, every peer (~8 min)
#   bench/run.sh --quick          # smoke run: 1 rep, small counts (~1-2 min)
#   bench/run.sh --only sdk-lowlevel   # webmcp + sdk-lowlevel (+ the minimal baselines, always kept)
#
# Every argument goes to peerbench's run.py (`bench/run.sh -h` lists them). Results are written to
# bench/results/<UTC stamp>/ (git-ignored): report.md, summary.json, raw.jsonl, logs/.
# Environment: WEBMCP=<webmcp executable> (default: the repo's .venv/bin/webmcp, else `webmcp` on
# PATH); VENV=<peerbench venv> (default as in peerbench: ~/.cache/webmcp-peerbench-venv).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
peerbench="$repo/../shared/peerbench"
if [[ ! -f "$peerbench/run.py" ]]; then
  echo "bench/run.sh: the peerbench harness was not found at $peerbench" >&2
  echo "  (expected a checkout of the shared folder next to the repo: <parent>/shared/peerbench)" >&2
  exit 2
fi
peerbench="$(cd "$peerbench" && pwd)"

export VENV="${VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/webmcp-peerbench-venv}"
if ! "$VENV/bin/python" -c 'import mcp, fastmcp, orjson, aiohttp, psutil' 2>/dev/null; then
  echo "bench/run.sh: peerbench venv missing or incomplete at $VENV; creating it (a few minutes)" >&2
  "$peerbench/setup_venv.sh"
fi
py="$VENV/bin/python"

webmcp="${WEBMCP:-}"
if [[ -z "$webmcp" ]]; then
  if [[ -x "$repo/.venv/bin/webmcp" ]]; then
    webmcp="$repo/.venv/bin/webmcp"
  else
    webmcp="$(command -v webmcp || true)"
  fi
fi
if [[ -z "$webmcp" || ! -x "$webmcp" ]]; then
  echo "bench/run.sh: no webmcp executable (set WEBMCP=..., or create $repo/.venv and pip install -e .)" >&2
  exit 2
fi
config="$here/echo.yaml"
"$webmcp" validate -c "$config" >/dev/null

server_cmd="$("$py" -c 'import shlex, sys; print(shlex.join(sys.argv[1:]))' "$webmcp" serve -c "$config")"
# HTTP: the session (default) mode and the stateless JSON mode, like the peers' two modes.
http_default="webmcp/default=http://127.0.0.1:{port}/mcp|$server_cmd --transport http --port {port}"
http_stateless="webmcp/stateless-json=http://127.0.0.1:{port}/mcp|$("$py" -c 'import shlex, sys; print(shlex.join(sys.argv[1:]))' "$webmcp" serve -c "$here/echo-stateless.yaml") --transport http --port {port}"

# Pass everything through, but: results go to bench/results/<stamp> unless --out is given, and an
# --only regex always keeps webmcp (`--only sdk-lowlevel` = sdk-lowlevel + webmcp + baselines).
args=()
out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --out=*) out="${1#--out=}"; shift ;;
    --only) args+=(--only "^webmcp|$2"); shift 2 ;;
    --only=*) args+=(--only "^webmcp|${1#--only=}"); shift ;;
    -h|--help) exec "$peerbench/run.sh" --help ;;
    *) args+=("$1"); shift ;;
  esac
done
if [[ -z "$out" ]]; then
  out="$here/results/$(date -u +%Y%m%dT%H%M%SZ)"
fi
mkdir -p "$out"
out="$(cd "$out" && pwd)"

# Which webmcp was measured (others may commit while a run is going: recorded before and after).
stamp_webmcp() {
  { echo "$1: $("$webmcp" --version 2>&1); commit $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')" \
      "$( [[ -n "$(git -C "$repo" status --porcelain -- webmcp 2>/dev/null)" ]] && echo '+ uncommitted changes in webmcp/')"
  } >>"$out/webmcp-version.txt"
}
stamp_webmcp before
echo "bench/run.sh: server: webmcp=$server_cmd"
echo "bench/run.sh: results: $out"
"$peerbench/run.sh" --server "webmcp=$server_cmd" --http "$http_default" --http "$http_stateless" \
    --out "$out" ${args[@]+"${args[@]}"}

stamp_webmcp after
cat "$out/webmcp-version.txt"
echo
echo "================ webmcp vs peers (same run) ================"
"$py" "$here/summarize.py" "$out"
