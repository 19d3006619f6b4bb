#!/usr/bin/env bash
# Build the single-file binary into build/dist/webmcp and smoke-test it on the example config.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s .venv/.serve-stamp >/dev/null 2>&1 || make .venv/.serve-stamp 1>&2
.venv/bin/python -m pip install -q "pyinstaller>=6.10" 1>&2
.venv/bin/pyinstaller --noconfirm --clean --log-level WARN \
    --distpath build/dist --workpath build/work build/webmcp.spec 1>&2
build/dist/webmcp validate -c webmcp.yaml
printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"smoke","version":"0"}}}' \
              '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"text","arguments":{"operation":"count","text":"a b c"}}}' \
    | build/dist/webmcp serve -c webmcp.yaml --log-level warning
echo "built build/dist/webmcp ($(du -h build/dist/webmcp | cut -f1))" >&2
