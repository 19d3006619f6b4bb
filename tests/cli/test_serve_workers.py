"""`webmcp serve --workers N` / `scaling.workers`: bad input is refused before anything starts, with the
exit code the CLI documents (2 usage, 3 invalid configuration)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from webmcp.cli import main

HTTP = "version: 1\nserver: {transport: http, http: {stateless: true}}\ntools:\n  t: {kind: static, content: x}\n"
STDIO = "version: 1\ntools:\n  t: {kind: static, content: x}\n"


def serve(tmp_path: Path, text: str, *args: str) -> tuple[int, str]:
    config = tmp_path / "webmcp.yaml"
    config.write_text(text)
    result = CliRunner().invoke(main, ["serve", "-c", str(config), *args])
    return result.exit_code, result.output


def test_zero_workers_is_a_usage_error(tmp_path: Path) -> None:
    """--workers 0: exit 2, naming the option."""
    code, out = serve(tmp_path, HTTP, "--workers", "0")
    assert code == 2
    assert "Invalid value for '--workers': 0 is not in the range x>=1." in out


def test_workers_with_stdio_is_a_usage_error(tmp_path: Path) -> None:
    """--workers with the stdio transport: exit 2, saying why and what to add."""
    code, out = serve(tmp_path, STDIO, "--workers", "2")
    assert code == 2
    assert out.strip() == ("--workers: worker processes serve the http transport only (stdio has one client); "
                           "add --transport http")


def test_workers_from_the_environment_with_stdio_names_the_variable(tmp_path: Path) -> None:
    """WEBMCP_WORKERS is an option like --workers."""
    config = tmp_path / "webmcp.yaml"
    config.write_text(STDIO)
    result = CliRunner().invoke(main, ["serve", "-c", str(config)], env={"WEBMCP_WORKERS": "2"})
    assert result.exit_code == 2
    assert result.output.startswith("env WEBMCP_WORKERS: worker processes serve the http transport only")


@pytest.mark.parametrize(
    ("scaling", "expected"),
    [
        pytest.param("{min: 3, max: 2}", "webmcp.yaml:4:13: scaling.workers.min: min must not be more than max (2) "
                     "(got 3)", id="min-over-max"),
        pytest.param("{min: 2, max: 2, cooldown: 5m}", "webmcp.yaml:4:29: scaling.workers.cooldown: cooldown is an "
                     "autoscaling setting, and autoscaling is off when min equals max (2) (got \"5m\"); remove "
                     "cooldown, or set max above min", id="cooldown-without-autoscaling"),
        pytest.param("{min: 3, max: 3, in_flight: 8}", "webmcp.yaml:4:29: scaling.workers.in_flight: in_flight is an "
                     "autoscaling setting, and autoscaling is off when min equals max (3) (got 8); remove in_flight, "
                     "or set max above min", id="in-flight-without-autoscaling"),
        pytest.param("{min: 1, max: 4, in_flight: 0}",
                     "webmcp.yaml:4:29: scaling.workers.in_flight: must be at least 1 (got 0)",
                     id="in-flight-0"),
        pytest.param("0", "webmcp.yaml:4:3: scaling.workers:", id="zero"),
    ],
)
def test_bad_scaling_workers_are_located_config_errors(tmp_path: Path, scaling: str, expected: str) -> None:
    """scaling.workers: min over max, autoscaling settings without autoscaling, zero: exit 3 at the line."""
    text = HTTP.replace("tools:", f"scaling:\n  workers: {scaling}\ntools:")
    code, out = serve(tmp_path, text)
    assert code == 3
    assert out.splitlines()[0].replace(str(tmp_path) + "/", "").startswith(expected)


@pytest.mark.parametrize(
    ("sessions", "pools", "expected"),
    [
        ("{backend: redis}", "", "server.http.sessions.backend: redis session records need a pool"),
        ("{backend: redis, pool: shared}", "", "server.http.sessions.pool: no such entry in pools:"),
        ("{backend: redis, pool: web}", "pools: {web: {kind: http}}\n",
         "server.http.sessions.pool: pools entry 'web' is of kind http, not redis"),
        ("{pool: shared}", "pools: {shared: {kind: redis}}\n",
         "server.http.sessions.pool: only backend: redis keeps session records in a pool"),
        ("{backend: disk}", "", "server.http.sessions.backend: "),
    ],
)
def test_bad_session_backends_are_located_config_errors(tmp_path: Path, sessions: str, pools: str,
                                                        expected: str) -> None:
    """server.http.sessions: a redis backend needs a redis pool; a memory one takes none; exit 3 at the line."""
    text = HTTP.replace("stateless: true", f"sessions: {sessions}").replace("tools:", pools + "tools:")
    config = tmp_path / "webmcp.yaml"
    config.write_text(text)
    result = CliRunner().invoke(main, ["validate", "-c", str(config)])
    assert result.exit_code == 3, result.output
    assert expected in result.output
    assert "webmcp.yaml:2:" in result.output


def test_several_workers_share_sessions(tmp_path: Path) -> None:
    """Two workers with 2025 sessions validate: the sessions are shared through the supervisor."""
    config = tmp_path / "webmcp.yaml"
    config.write_text(HTTP.replace("stateless: true", "stateless: false").replace(
        "tools:", "scaling: {workers: 2}\ntools:"))
    result = CliRunner().invoke(main, ["validate", "-c", str(config)])
    assert result.exit_code == 0, result.output


def test_one_worker_keeps_sessions(tmp_path: Path) -> None:
    """One worker holds every session, so stateless is not required; the file itself still validates."""
    config = tmp_path / "webmcp.yaml"
    config.write_text(HTTP.replace("stateless: true", "stateless: false").replace(
        "tools:", "scaling: {workers: 1}\ntools:"))
    result = CliRunner().invoke(main, ["validate", "-c", str(config)])
    assert result.exit_code == 0, result.output


def test_telemetry_listen_is_refused_with_workers(tmp_path: Path) -> None:
    """Every worker would bind telemetry.listen: refused, pointing at the HTTP listener."""
    code, out = serve(tmp_path, HTTP + "telemetry: {listen: '127.0.0.1:9464'}\n", "--workers", "2")
    assert code == 3
    assert "telemetry.listen would be bound by every worker" in out


def test_autoscaled_workers_validate(tmp_path: Path) -> None:
    """{min, max, cooldown, in_flight, cpu} with min below max is a valid file (autoscaling)."""
    config = tmp_path / "webmcp.yaml"
    workers = "{min: 1, max: 4, cooldown: 30s, in_flight: 8, cpu: 50%}"
    config.write_text(HTTP.replace("tools:", f"scaling:\n  workers: {workers}\ntools:"))
    result = CliRunner().invoke(main, ["validate", "-c", str(config)])
    assert result.exit_code == 0, result.output


def test_alerts_without_a_target_are_a_located_error(tmp_path: Path) -> None:
    """telemetry.alerts with no scaling.targets would never fire: exit 3, naming the section and the fix."""
    code, out = serve(tmp_path, HTTP + "telemetry:\n  alerts: [{url: 'http://127.0.0.1:9/hook'}]\n")
    assert code == 3
    assert out.splitlines()[0].replace(str(tmp_path) + "/", "") == (
        "webmcp.yaml:6:3: telemetry.alerts: alerts are sent when a scaling target is violated or recovers, and no "
        "target is declared (got 1 webhook(s)); declare scaling.targets (p95_latency, error_rate or max_memory), or "
        "remove telemetry.alerts")


def test_an_alert_url_must_be_http(tmp_path: Path) -> None:
    """A webhook that is not an http(s) URL: a located error from the schema."""
    code, out = serve(tmp_path, HTTP + "scaling: {targets: {p95_latency: 1s}}\ntelemetry:\n  alerts: [{url: 'ftp://x'}]\n")
    assert code == 3
    assert "webmcp.yaml:7:13: telemetry.alerts[0].url: must be an http:// or https:// URL (got \"ftp://x\")" in out
