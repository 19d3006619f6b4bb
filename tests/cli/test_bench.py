"""`webmcp bench` flags checked before anything runs: which server, which model, the bench extra."""

from __future__ import annotations

import sys

import pytest
from click.testing import CliRunner

from webmcp.cli import main


@pytest.mark.parametrize(("args", "message"), [
    (["--tool", "t"], "give the server: --url URL (Streamable HTTP), or -- COMMAND... to start it over stdio"),
    (["--url", "http://127.0.0.1:9/mcp", "--tool", "t", "--", "srv"], "give the server: --url URL"),
    (["--pid", "1", "--tool", "t", "--", "srv"], "--pid is for --url; over stdio the pid is the child's"),
    (["--stress", "--concurrency", "4", "--tool", "t", "--", "srv"],
     "--stress sets the load and the time itself (--stress-start, --stress-step, --stress-max, --stress-hold): "
     "drop --concurrency"),
    (["--stress", "--stress-step", "x1", "--tool", "t", "--", "srv"], "--stress-step 'x1': the load must grow"),
    (["--threshold", "p95 under 1s", "--tool", "t", "--", "srv"], "--threshold 'p95 under 1s': write METRIC OP VALUE"),
    (["--tolerance", "speed=5%", "--tool", "t", "--", "srv"], "--tolerance 'speed=5%': write KIND=PERCENT"),
    (["--soak", "1h", "--url", "http://127.0.0.1:9/mcp", "--tool", "t"],
     "--soak needs the server's memory: start it with -- COMMAND..., or give --pid"),
    (["--soak", "1h", "--duration", "5m", "--tool", "t", "--", "srv"], "--soak sets the duration: drop --duration"),
    (["--soak", "1h", "--soak-max-growth", "lots", "--tool", "t", "--", "srv"],
     "--soak-max-growth 'lots': write MB per hour, e.g. 10MB/h"),
])
def test_usage_errors_exit_2_before_any_server_starts(args: list[str], message: str) -> None:
    """Each bad combination of flags is one line on stderr and exit 2; no server is started."""
    result = CliRunner().invoke(main, ["bench", *args])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(message)


def test_missing_bench_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without hdrhistogram, the command says which extra to install."""
    monkeypatch.setitem(sys.modules, "hdrh.histogram", None)
    result = CliRunner().invoke(main, ["bench", "--tool", "t", "--", "srv"])
    assert result.exit_code == 2
    assert result.output.strip() == ("webmcp bench needs 'hdrhistogram', from the bench extra: "
                                     "pip install 'webmcp[bench]'")
