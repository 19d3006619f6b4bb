#!/usr/bin/env bash
# Build the single-file binary and smoke-test it on the example config.
#   build/build.sh        build/dist/webmcp: lean, no embedding backend
#   build/build.sh onnx   build/dist/webmcp-embed: with the onnx embedding backend (onnxruntime, tokenizers,
#                         numpy; never torch), installed into .venv first as webmcp[embed-onnx]
set -euo pipefail
cd "$(dirname "$0")/.."
embed="${1:-}"
case "$embed" in
    "") name=webmcp ;;
    onnx) name=webmcp-embed ;;
    *) echo "build/build.sh: unknown embedding backend '$embed' (onnx, or none for the lean binary)" >&2; exit 2 ;;
esac
make -s .venv/.serve-stamp >/dev/null 2>&1 || make .venv/.serve-stamp 1>&2
.venv/bin/python -m pip install -q "pyinstaller>=6.10" 1>&2
if [ -n "$embed" ] && ! .venv/bin/python -c "import onnxruntime, tokenizers, numpy" 2>/dev/null; then
    .venv/bin/python -m pip install -q -e ".[embed-onnx]" 1>&2
fi
WEBMCP_BUILD_EMBED="$embed" .venv/bin/pyinstaller --noconfirm --clean --log-level WARN \
    --distpath build/dist --workpath "build/work/$name" build/webmcp.spec 1>&2
binary="build/dist/$name"
"$binary" validate -c webmcp.yaml
printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"smoke","version":"0"}}}' \
              '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"text","arguments":{"operation":"count","text":"a b c"}}}' \
    | "$binary" serve -c webmcp.yaml --log-level warning
echo "built $binary ($(du -h "$binary" | cut -f1))" >&2
if [ -n "$embed" ]; then
    echo "check its embeddings against the golden values: make binary-test (needs make test's venv)" >&2
fi
