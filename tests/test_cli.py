"""The `webmcp` command line, through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from webmcp.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_validate_accepts_the_example_config(runner: CliRunner) -> None:
    """The shipped webmcp.yaml is valid; exit code 0."""
    result = runner.invoke(main, ["validate", "-c", str(REPO / "webmcp.yaml")])
    assert result.exit_code == 0, result.output
    assert "ok (" in result.output


def test_validate_prints_every_problem_and_exits_3(runner: CliRunner, tmp_path: Path) -> None:
    """Each problem is one FILE:LINE:COL line; exit code 3 for an invalid config."""
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("version: 1\ntools:\n  a:\n    kind: python\n    function: x:y\n    timeot: 2s\n"
                   "  b:\n    kind: statik\n")
    result = runner.invoke(main, ["validate", "-c", str(cfg)])
    assert result.exit_code == 3
    lines = result.stdout.strip().splitlines()
    assert lines == [
        f"{cfg}:6:5: tools.a.timeot: unknown key; did you mean 'timeout'?; allowed: annotations, breaker, cache, "
        "concurrency, deprecated, description, expose, fallback, function, input, invalidates, isolation, kind, "
        "output, priority, rate_limit, scopes, split, tags, timeout, title, version",
        f"{cfg}:8:5: tools.b.kind: must be one of: command, embedding, http, mcp, python, semantic_search, static "
        f"(got \"statik\"); "
        "did you mean 'static'?",
    ]


def test_validate_json_format(runner: CliRunner, tmp_path: Path) -> None:
    """--format json gives machine-readable problems."""
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("version: 1\nserver: {transport: carrier-pigeon}\n")
    result = runner.invoke(main, ["validate", "-c", str(cfg), "--format", "json"])
    assert result.exit_code == 3
    report = json.loads(result.stdout)
    assert report["valid"] is False
    (problem,) = report["problems"]
    assert problem["path"] == "server.transport" and problem["line"] == 2 and problem["got"] == '"carrier-pigeon"'


def test_validate_reports_build_errors_with_exit_code_4(runner: CliRunner, tmp_path: Path) -> None:
    """A valid file whose python function does not import exits 4, naming file:line."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("version: 1\ntools:\n  t:\n    kind: python\n    function: no_such_module_xyz:f\n")
    result = runner.invoke(main, ["validate", "-c", str(cfg)])
    assert result.exit_code == 4
    assert result.stdout.startswith(f"{cfg}:3:3: tools.t: cannot import no_such_module_xyz:f: ModuleNotFoundError")


def test_validate_never_prints_an_expanded_secret(runner: CliRunner, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Values that came from ${VAR} are shown as the reference in every problem, text and JSON, whole or in
    part of a value, long or cut at 60 characters, from the schema check and from the build."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text('version: 1\ntools:\n'
                   '  a: {kind: http, request: {url: "htp://bob:${T_PASS}@example.com/mcp"}}\n'
                   '  b: {kind: http, request: {url: "${T_URL}"}}\n'
                   '  c: {kind: command, argv: [echo], cwd: "${T_DIR}"}\n'
                   '  d: {kind: http, request: {url: "ftp://example.com/a-long-path/to-push-the-key-past-60/${T_PASS}"}}\n')
    monkeypatch.setenv("T_PASS", "hunter2-pw")
    monkeypatch.setenv("T_URL", "ftp://alice:s3cret-pw@example.com/")
    monkeypatch.setenv("T_DIR", "/no/such/dir-s3cret")
    text = runner.invoke(main, ["validate", "-c", str(cfg)])
    assert text.exit_code == 3
    assert '(got "htp://***@example.com/mcp")' in text.stdout and '(got "${T_URL}")' in text.stdout
    json_out = runner.invoke(main, ["validate", "-c", str(cfg), "--format", "json"]).stdout
    cfg.write_text('version: 1\ntools:\n  c: {kind: command, argv: [echo], cwd: "${T_DIR}"}\n')
    build = runner.invoke(main, ["validate", "-c", str(cfg)])
    assert build.exit_code == 4 and "cwd is not a folder (got ${T_DIR})" in build.stdout
    for out in (text.output, json_out, build.output):
        assert not any(part in out for part in ("hunter2", "s3cret", "hunter2-p", "-pw"))


def test_validate_never_prints_the_credentials_of_a_url(runner: CliRunner, tmp_path: Path) -> None:
    """A password written in a URL of the file itself is cut to `***@` in the problem, text and JSON."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text('version: 1\nupstreams:\n  up: {kind: mcp, url: "htp://bob:hunter2-pw@example.com/mcp"}\n'
                   'tools:\n  t: {kind: mcp, upstream: up, tool: x}\n')
    text = runner.invoke(main, ["validate", "-c", str(cfg)])
    assert text.exit_code == 3
    assert 'upstreams.up.url: must be an http:// or https:// URL (got "htp://***@example.com/mcp")' in text.stdout
    json_out = runner.invoke(main, ["validate", "-c", str(cfg), "--format", "json"]).stdout
    assert "hunter2" not in text.output + json_out and "***@" in json_out


def test_tools_prints_the_catalog(runner: CliRunner) -> None:
    """`webmcp tools` lists each tool, a master tool's operations, and the count."""
    result = runner.invoke(main, ["tools", "-c", str(REPO / "webmcp.yaml")])
    assert result.exit_code == 0, result.output
    assert "    operation: count" in result.stdout
    as_json = json.loads(runner.invoke(main, ["tools", "-c", str(REPO / "webmcp.yaml"), "--json"]).stdout)
    assert as_json["count"] == 5 and {t["name"] for t in as_json["tools"]} >= {"text", "about"}
    tokens = -(-len(orjson.dumps(as_json["tools"])) // 4)
    assert as_json["tokens"] == tokens
    assert result.stdout.strip().splitlines()[-1] == f"5 tools, about {tokens} tokens"


TOOLSETS = """version: 1
tools:
  a: {kind: static, content: a, tags: [x], description: First tool}
  b: {kind: static, content: b, tags: [x], description: Second tool}
  c: {kind: static, content: c}
toolsets:
  folded: {mode: fold, max_tools: 2}
  lean: {mode: search}
"""


def test_tools_prints_a_toolset_with_its_count_and_token_estimate(runner: CliRunner, tmp_path: Path) -> None:
    """`webmcp tools --toolset NAME` prints that view; an unknown name is a usage error naming the toolsets."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(TOOLSETS)
    folded = runner.invoke(main, ["tools", "-c", str(cfg), "--toolset", "folded"])
    assert folded.exit_code == 0, folded.output
    lines = folded.stdout.splitlines()
    assert lines[:4] == ["c", "x  The 2 tools tagged 'x'.", "    operation: a", "    operation: b"]
    assert lines[-1].startswith("2 tools, about ") and lines[-1].endswith(" tokens (toolset folded)")
    lean = json.loads(runner.invoke(main, ["tools", "-c", str(cfg), "--toolset", "lean", "--json"]).stdout)
    assert [t["name"] for t in lean["tools"]] == ["find_tools", "call_tool"] and lean["toolset"] == "lean"
    unknown = runner.invoke(main, ["tools", "-c", str(cfg), "--toolset", "leen"])
    assert unknown.exit_code == 2
    assert f"--toolset leen: {cfg} has no such toolset (did you mean 'lean'?)" in unknown.output
    checked = runner.invoke(main, ["validate", "-c", str(cfg)])
    assert checked.exit_code == 0, checked.output
    lines = checked.stdout.splitlines()
    assert lines[1].startswith("toolset folded (mode fold): 2 tools of max_tools 2, about ")
    assert lines[2].startswith("toolset lean (mode search): 2 tools, about ")
    http = runner.invoke(main, ["serve", "-c", str(cfg), "--toolset", "lean", "--transport", "http"])
    assert http.exit_code == 2 and "over HTTP the toolset is served at /mcp/lean" in http.output


def test_validate_warns_about_deprecated_tools(runner: CliRunner, tmp_path: Path) -> None:
    """Each deprecated tool is a located warning; the file is still valid."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("version: 1\ntools:\n  new: {kind: static, content: n}\n"
                   "  old: {kind: static, content: o, deprecated: {message: use new, sunset: 2020-01-01, "
                   "replacement: new}}\n")
    result = runner.invoke(main, ["validate", "-c", str(cfg)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == (
        f"warning: {cfg}:4:3: tools.old: deprecated: use new; its sunset 2020-01-01 is past: it is no longer listed "
        "and its calls are refused; use new")


def test_schema_prints_one_bundled_schema(runner: CliRunner) -> None:
    """`webmcp schema` prints a self-contained JSON Schema with every kind embedded."""
    from jsonschema import Draft202012Validator

    result = runner.invoke(main, ["schema"])
    schema = json.loads(result.stdout)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    assert validator.is_valid({"version": 1, "tools": {"a": {"kind": "static", "content": "x"}}})
    assert not validator.is_valid({"version": 1, "tools": {"a": {"kind": "static", "contnt": "x"}}})


def test_serve_reports_a_port_it_cannot_listen_on(runner: CliRunner, tmp_path: Path) -> None:
    """A busy port is a clear error with exit code 2, not a traceback."""
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(main, ["serve", "-c", str(REPO / "webmcp.yaml"), "--transport", "http",
                                      "--port", str(port)])
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_env_overrides_are_reported_with_their_source(runner: CliRunner, tmp_path: Path) -> None:
    """A bad WEBMCP_PROFILE is reported as coming from the environment."""
    result = runner.invoke(main, ["validate", "-c", str(REPO / "webmcp.yaml")], env={"WEBMCP_PROFILE": "quantum"})
    assert result.exit_code == 3
    assert result.stdout.startswith("env WEBMCP_PROFILE: profile: no such profile (got \"quantum\")")


def test_validate_diff_between_two_files(runner: CliRunner, tmp_path: Path) -> None:
    """--diff OTHER.yaml prints what changes going from OTHER.yaml to the file, restart-only settings too."""
    old = tmp_path / "old.yaml"
    new = tmp_path / "new.yaml"
    old.write_text("version: 1\ntools:\n  a: {kind: static, content: x}\n  b: {kind: static, content: y}\n")
    new.write_text("version: 1\nserver: {transport: http}\ntools:\n  a: {kind: static, content: x, title: A}\n"
                   "  c: {kind: static, content: z}\nprompts:\n  p: {messages: [{content: hi}]}\n")
    result = runner.invoke(main, ["validate", "-c", str(new), "--diff", str(old)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:] == [
        f"changes from {old} to {new}:",
        "  tools: added c; removed b; changed a",
        "  prompts: added p",
        "  ignored until restart: server.transport",
    ]
    args = ["validate", "-c", str(new), "--diff", str(old), "--format", "json"]
    as_json = json.loads(runner.invoke(main, args).stdout)
    assert as_json["diff"]["added"]["tools"] == ["c"] and as_json["diff"]["restart_only"] == ["server.transport"]


@pytest.mark.parametrize(("extra", "connected"), [pytest.param([], False, id="default"),
                                                   pytest.param(["--connect"], True, id="connect"),
                                                   pytest.param(["--diff", "OTHER"], True, id="diff")])
def test_validate_json_says_whether_it_connected(runner: CliRunner, tmp_path: Path, extra: list[str],
                                                 connected: bool) -> None:
    """`validate --format json` carries `connected` and `unchecked`: static by default; --connect and --diff connect."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("version: 1\ntools:\n  a: {kind: static, content: x}\n")
    extra = [str(cfg) if arg == "OTHER" else arg for arg in extra]
    result = runner.invoke(main, ["validate", "-c", str(cfg), "--format", "json", *extra])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["connected"] is connected and report["unchecked"] == {"tools": [], "pools": []}


def test_validate_diff_reports_a_tool_whose_backend_changed(runner: CliRunner, tmp_path: Path) -> None:
    """--diff reports a tool whose function, argv, url or content changed though its definition did not, and a
    master tool one of whose operations changed so."""
    (tmp_path / "backend_mod.py").write_text(
        'def f(x: str) -> str:\n    """Echo."""\n    return x\n\n'
        'def g(x: str) -> str:\n    """Echo."""\n    return x * 2\n')
    old = tmp_path / "old.yaml"
    new = tmp_path / "new.yaml"
    tools = ("version: 1\ntools:\n"
             "  py: {kind: python, function: backend_mod:f}\n"
             "  cmd: {kind: command, argv: [echo, a]}\n"
             "  web: {kind: http, request: {url: 'http://127.0.0.1:9/a'}}\n"
             "  fixed: {kind: static, content: x}\n"
             "  same: {kind: static, content: y}\n"
             "master_tools:\n  m: {description: M, operations: {o: {kind: static, content: x}}}\n")
    old.write_text(tools)
    new.write_text(tools.replace("backend_mod:f", "backend_mod:g").replace("echo, a", "echo, b")
                   .replace("9/a", "9/b").replace("content: x", "content: z"))
    result = runner.invoke(main, ["validate", "-c", str(new), "--diff", str(old)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[2:] == ["  tools: changed cmd, fixed, m, py, web"]


def test_validate_diff_ignores_where_a_tool_is_written(runner: CliRunner, tmp_path: Path) -> None:
    """A tool that only moved to another line of the file is not reported as changed."""
    old = tmp_path / "old.yaml"
    new = tmp_path / "new.yaml"
    old.write_text("version: 1\ntools:\n  a: {kind: static, content: x, cache: {ttl: 1m}}\n"
                   "  b: {kind: command, argv: [echo]}\n")
    new.write_text("version: 1\n\ntools:\n  b: {kind: command, argv: [echo]}\n\n"
                   "  a: {kind: static, content: x, cache: {ttl: 1m}}\n")
    result = runner.invoke(main, ["validate", "-c", str(new), "--diff", str(old)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[2:] == ["  no changes"]


def test_validate_diff_without_a_running_server_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    """--diff alone needs a running server of the config; without one it says so (exit 2)."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("version: 1\ntools:\n  a: {kind: static, content: x}\n")
    result = runner.invoke(main, ["validate", "-c", str(cfg), "--diff"], env={"XDG_RUNTIME_DIR": str(tmp_path)})
    assert result.exit_code == 2
    assert "no running webmcp server" in result.stderr


def test_validate_diff_sees_modules_of_the_same_name_in_both_folders(runner: CliRunner, tmp_path: Path) -> None:
    """Two configs whose tool modules share a name: --diff compares each config's own module."""
    for folder, doc in (("v1", "Old."), ("v2", "New.")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "difftools_mod.py").write_text(f'def f(x: str) -> str:\n    """{doc}"""\n    return x\n')
        tool = "  t: {kind: python, function: difftools_mod:f}\n"
        (tmp_path / folder / "webmcp.yaml").write_text("version: 1\ntools:\n" + tool)
    result = runner.invoke(main, ["validate", "-c", str(tmp_path / "v2" / "webmcp.yaml"),
                                  "--diff", str(tmp_path / "v1" / "webmcp.yaml")])
    assert result.exit_code == 0, result.output
    assert "  tools: changed t" in result.stdout.splitlines()


def test_status_without_a_running_server_says_so(runner: CliRunner, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """`webmcp status` for a config nobody serves: a message on stderr and exit 1."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    cfg = tmp_path / "webmcp.yaml"
    cfg.write_text("version: 1\ntools: {}\n")
    result = runner.invoke(main, ["status", "-c", str(cfg)])
    assert result.exit_code == 1
    assert f"no running webmcp server for {cfg}" in result.output
