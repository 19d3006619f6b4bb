"""YAML in -> the exact error lines `load` reports (Toolbox's TestFailParseFromYaml, for whole files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from webmcp.config.layers import Override
from webmcp.config.load import load
from webmcp.errors import ConfigError

ALLOWED_STATIC = ("annotations, breaker, cache, concurrency, content, deprecated, description, expose, fallback, "
                  "input, invalidates, kind, output, priority, rate_limit, scopes, split, structured, tags, timeout, "
                  "title, version")
DURATION = "must be a duration with a unit, like 250ms, 2s, 5m or 1h"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary current folder, so error lines start with the relative name `webmcp.yaml`."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def problems_of(folder: Path, text: str, overrides: list[Override] | None = None) -> list[str]:
    (folder / "webmcp.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load("webmcp.yaml", env={}, overrides=overrides)
    return [p.render() for p in info.value.problems]


CASES = [
    pytest.param(
        "version: 1\ntool:\n  a: {kind: static, content: hi}\n",
        [
            "webmcp.yaml:2:1: tool: unknown key; did you mean 'tools'?; "
            "allowed: breakers, caches, executor, master_tools, model_defaults, models, plugins, pools, profile, "
            "prompts, resources, scaling, server, "
            "telemetry, tools, toolsets, upstreams, version"
        ],
        id="unknown-top-level-key",
    ),
    pytest.param(
        "version: 1\ntools:\n  a:\n    kind: static\n    content: hi\n    timeot: 2s\n",
        [f"webmcp.yaml:6:5: tools.a.timeot: unknown key; did you mean 'timeout'?; allowed: {ALLOWED_STATIC}"],
        id="unknown-key-in-tool",
    ),
    pytest.param(
        "version: 1\ntools:\n  a:\n    kind: http\n    request: {url: 'https://x/{id}', methd: GET}\n",
        [
            "webmcp.yaml:5:38: tools.a.request.methd: unknown key; did you mean 'method'?; "
            "allowed: body, headers, method, path, query, url"
        ],
        id="unknown-key-in-http-request",
    ),
    pytest.param(
        "version: 1\ntools:\n  a: {kind: static, content: x}\n"
        "master_tools:\n  m: {operations: {x: a}, descripton: d}\n",
        [
            "webmcp.yaml:5:27: master_tools.m.descripton: unknown key; did you mean 'description'?; "
            "allowed: annotations, description, operations, schema_style, scopes, tags, title"
        ],
        id="unknown-key-in-master-tool",
    ),
    pytest.param(
        "version: 1\ntools:\n  a:\n    kind: pyton\n    function: m:f\n",
        [
            'webmcp.yaml:4:5: tools.a.kind: must be one of: command, embedding, http, mcp, python, '
            'semantic_search, static (got "pyton"); '
            "did you mean 'python'?"
        ],
        id="unknown-tool-kind",
    ),
    pytest.param(
        "version: 1\nmaster_tools:\n  m:\n    operations:\n      y: {kind: pyton, function: 'm:f'}\n",
        [
            'webmcp.yaml:5:11: master_tools.m.operations.y.kind: unknown tool kind (got "pyton"); '
            "did you mean 'python'?; kinds: command, embedding, http, mcp, python, semantic_search, static"
        ],
        id="unknown-kind-of-inline-operation",
    ),
    pytest.param(
        "version: 1\ntools:\n  a:\n    kind: static\n    content: hi\n    timeout: fast\n",
        [f'webmcp.yaml:6:5: tools.a.timeout: {DURATION} (got "fast")'],
        id="bad-duration",
    ),
    pytest.param(
        "version: 1\ntools:\n  a:\n    kind: static\n    content: hi\n    timeout: 30\n",
        [f"webmcp.yaml:6:5: tools.a.timeout: {DURATION} (got 30)"],
        id="bare-number-duration",
    ),
    pytest.param(
        "version: 1\ntools:\n  a:\n    kind: command\n    argv: [ls]\n    max_output: 10\n",
        ["webmcp.yaml:6:5: tools.a.max_output: must be a size with a unit, like 512KB, 4MiB or 1GB (got 10)"],
        id="bare-number-size",
    ),
    pytest.param(
        "version: 1\ntools:\n  a:\n    kind: python\n",
        ["webmcp.yaml:3:3: tools.a: missing required key 'function'"],
        id="python-without-function",
    ),
    pytest.param(
        "version: 1\ntools:\n  a: {content: x}\n",
        ["webmcp.yaml:3:3: tools.a: missing required key 'kind'"],
        id="tool-without-kind",
    ),
    pytest.param(
        "tools: {}\n",
        ["webmcp.yaml:1:1: missing required key 'version'"],
        id="missing-version",
    ),
    pytest.param(
        "version: 1\ntools:\n  a:\n    kind: static\n    content: hi\n    content: ho\n",
        ["webmcp.yaml:6:5: tools.a.content: duplicate key (first at line 5); remove one of them"],
        id="duplicate-key",
    ),
    pytest.param(
        "version: 1\ntools:\n  a: [1, 2\n",
        ["webmcp.yaml:4:1: YAML syntax error: expected ',' or ']', but got '<stream end>'"],
        id="yaml-unclosed-flow-sequence",
    ),
    pytest.param(
        "version: 1\ntools:\n  a:\n    kind: static\n   content: hi\n",
        ["webmcp.yaml:5:4: YAML syntax error: expected <block end>, but found '<block mapping start>'"],
        id="yaml-bad-indentation",
    ),
    pytest.param(
        "version: 1\nserver:\n  page_size: lots\n",
        ['webmcp.yaml:3:3: server.page_size: must be a whole number (got "lots")'],
        id="wrong-type-integer",
    ),
    pytest.param(
        "version: 1\ntools: [a]\n",
        ['webmcp.yaml:2:1: tools: must be a mapping (got ["a"])'],
        id="wrong-type-mapping",
    ),
    pytest.param(
        "version: 1\ntools:\n  a: {kind: static, content: x, expose: 'yes'}\n",
        ['webmcp.yaml:3:33: tools.a.expose: must be true or false (got "yes")'],
        id="wrong-type-boolean",
    ),
    pytest.param(
        "version: 1\nserver: {log_level: verbose}\n",
        ['webmcp.yaml:2:10: server.log_level: must be one of: debug, info, warning, error (got "verbose")'],
        id="not-in-enum",
    ),
    pytest.param(
        "version: 1\ntools:\n  a: {kind: python, function: nocolon}\n",
        ['webmcp.yaml:3:21: tools.a.function: must be package.module:function (got "nocolon")'],
        id="bad-function-reference",
    ),
    pytest.param(
        "version: 1\ntools:\n  a: {kind: http, request: {url: 'ftp://x'}}\n",
        ['webmcp.yaml:3:29: tools.a.request.url: must be an http:// or https:// URL (got "ftp://x")'],
        id="bad-url-scheme",
    ),
    pytest.param(
        "version: 1\nexecutor: {threads: 0}\n",
        ["webmcp.yaml:2:12: executor.threads: must be auto or a whole number from 1 to 1024 (got 0)"],
        id="threads-out-of-range",
    ),
    pytest.param(
        "version: 1\npools:\n  shared: {kind: redis}\nexecutor:\n  rate_limits: {backend: redis, pool: sharde}\n",
        ["webmcp.yaml:5:33: executor.rate_limits.pool: no such entry in pools: (got \"sharde\"); did you mean "
         "'shared'?"],
        id="rate-limits-unknown-pool",
    ),
    pytest.param(
        "version: 1\npools:\n  web: {kind: http}\nexecutor:\n  rate_limits: {backend: redis, pool: web}\n",
        ["webmcp.yaml:5:33: executor.rate_limits.pool: pools entry 'web' is of kind http, not redis (got \"web\")"],
        id="rate-limits-pool-not-redis",
    ),
    pytest.param(
        "version: 1\nexecutor:\n  rate_limits: {backend: redis}\n",
        ["webmcp.yaml:3:3: executor.rate_limits: missing required key 'pool'"],
        id="rate-limits-redis-without-pool",
    ),
    pytest.param(
        "version: 1\npools:\n  shared: {kind: redis}\nexecutor:\n  rate_limits: {pool: shared}\n",
        ["webmcp.yaml:5:17: executor.rate_limits.pool: a pool is for backend: redis (memory buckets need none) "
         "(got \"shared\"); add backend: redis, or remove pool"],
        id="rate-limits-pool-without-redis",
    ),
    pytest.param(
        "version: 1\ntools:\n  word_count: {kind: static, content: hi}\n"
        "master_tools:\n  text:\n    operations:\n      count: word_cont\n",
        [
            'webmcp.yaml:7:7: master_tools.text.operations.count: no such tool in tools: (got "word_cont"); '
            "did you mean 'word_count'?"
        ],
        id="master-operation-unknown-tool",
    ),
    pytest.param(
        "version: 1\ntools:\n  ls:\n    kind: command\n    argv: [ls, '{folder}', '{other}']\n"
        "    input:\n      type: object\n      properties:\n        folder: {type: string}\n",
        [
            'webmcp.yaml:3:3: tools.ls: placeholder {other} is not an argument of the tool (got "other"); '
            "declare it under input.properties (has: folder)"
        ],
        id="argv-placeholder-not-in-input",
    ),
    pytest.param(
        "version: 1\ntools:\n  c:\n    kind: command\n    argv: [echo, '{bad']\n",
        ["webmcp.yaml:3:3: tools.c: bad placeholder '{bad' in '{bad'; write {name}, or {{ and }} for literal braces"],
        id="argv-bad-placeholder",
    ),
    pytest.param(
        "- a\n- b\n",
        [
            'webmcp.yaml:1:1: the config must be a mapping of sections (got ["a","b"]); '
            "start with `version: 1` and a `tools:` section"
        ],
        id="document-is-a-list",
    ),
    pytest.param(
        "hello\n",
        [
            'webmcp.yaml:1:1: the config must be a mapping of sections (got "hello"); '
            "start with `version: 1` and a `tools:` section"
        ],
        id="document-is-a-scalar",
    ),
    pytest.param(
        "version: 2\ntools: {}\n",
        ["webmcp.yaml:1:1: version: must be 1 (the only config format version so far) (got 2)"],
        id="version-2",
    ),
    pytest.param(
        "version: 1\nmodels:\n  m: {path: m, backend: onnx, dtype: float16}\ntools: {}\n",
        ['webmcp.yaml:3:31: models.m.dtype: the onnx backend runs float32 only (got "float16"); '
         "leave dtype out, or use backend: torch for half precision"],
        id="onnx-model-in-half-precision",
    ),
    pytest.param(
        "version: 1\nupstreams:\n  api:\n    kind: mcp\n    endpoints: ['htp://a/mcp']\n",
        ['webmcp.yaml:5:17: upstreams.api.endpoints[0]: must be a mapping (got "htp://a/mcp")'],
        id="mcp-endpoint-not-a-mapping-once",
    ),
    pytest.param(
        "version: 1\nupstreams:\n  api:\n    kind: http\n    endpoints: ['http://[::1', 'http://h:99999']\n",
        ['webmcp.yaml:5:17: upstreams.api.endpoints[0]: is not a URL that can be used: Invalid IPv6 URL '
         '(got "http://[::1")',
         'webmcp.yaml:5:32: upstreams.api.endpoints[1]: is not a URL that can be used: Port out of range 0-65535 '
         '(got "http://h:99999")'],
        id="endpoint-urls-that-do-not-parse",
    ),
    pytest.param(
        "version: 1\nserver:\n  http:\n    auth: {issuer: i, audience: 'https://a/mcp', "
        "jwks_url: 'http://idp.example/jwks'}\n",
        ['webmcp.yaml:4:50: server.http.auth.jwks_url: the issuer\'s keys must come over https (plain http only '
         'from loopback) (got "http://idp.example/jwks"); use the https:// URL, or pin the keys with jwks_file'],
        id="jwks-over-plain-http",
    ),
    pytest.param(
        "version: 1\nserver:\n  http:\n    auth: {issuer: i, audience: a, jwks_url: 'https://i/k', jwks_file: k}\n",
        ["webmcp.yaml:4:5: server.http.auth: needs issuer, audience, and one of jwks_url or jwks_file",
         'webmcp.yaml:4:23: server.http.auth.audience: must be this MCP endpoint\'s public URL, like '
         'https://tools.example/mcp (got "a")'],
        id="auth-with-two-key-sources",
    ),
]


@pytest.mark.parametrize(("text", "errors"), CASES)
def test_load_error_text(workdir: Path, text: str, errors: list[str]) -> None:
    """A bad config is refused with exactly these located, one-line problems."""
    assert problems_of(workdir, text) == errors


def test_several_problems_are_reported_at_once(workdir: Path) -> None:
    """Problems in different tools of one file are all reported together, in file order."""
    text = (
        "version: 1\n"
        "tools:\n"
        "  a: {kind: static, content: x}\n"
        "  b: {kind: python}\n"
        "  c: {kind: command, argv: []}\n"
        "  d: {kind: static, content: x, timeout: fast, extra: 1}\n"
    )
    errors = problems_of(workdir, text)
    assert len(errors) == 4
    assert errors == [
        "webmcp.yaml:4:3: tools.b: missing required key 'function'",
        "webmcp.yaml:5:22: tools.c.argv: must have at least 1 item (got [])",
        f'webmcp.yaml:6:33: tools.d.timeout: {DURATION} (got "fast")',
        f"webmcp.yaml:6:48: tools.d.extra: unknown key; allowed: {ALLOWED_STATIC}",
    ]


def test_several_envelope_problems_are_reported_at_once(workdir: Path) -> None:
    """Several problems found by the envelope check are reported together."""
    text = "version: 1\nbogus: 1\nserver: {page_size: 0, log_level: loud}\ntools:\n  c: {kind: nope}\n"
    errors = problems_of(workdir, text)
    assert len(errors) == 4
    assert errors == [
        "webmcp.yaml:2:1: bogus: unknown key; allowed: breakers, caches, executor, master_tools, model_defaults, "
        "models, plugins, pools, profile, "
        "prompts, resources, scaling, server, telemetry, tools, toolsets, upstreams, version",
        "webmcp.yaml:3:10: server.page_size: must be at least 1 (got 0)",
        'webmcp.yaml:3:24: server.log_level: must be one of: debug, info, warning, error (got "loud")',
        'webmcp.yaml:5:7: tools.c.kind: must be one of: command, embedding, http, mcp, python, semantic_search, '
        'static (got "nope")',
    ]


def test_envelope_problem_does_not_hide_tool_problems(workdir: Path) -> None:
    """An unknown top-level key and a bad tool field in the same file are both reported."""
    text = "version: 1\nbogus: 1\ntools:\n  a: {kind: static, content: x, timeout: fast}\n"
    assert problems_of(workdir, text) == [
        "webmcp.yaml:2:1: bogus: unknown key; allowed: breakers, caches, executor, master_tools, model_defaults, "
        "models, plugins, pools, profile, "
        "prompts, resources, scaling, server, telemetry, tools, toolsets, upstreams, version",
        f'webmcp.yaml:4:33: tools.a.timeout: {DURATION} (got "fast")',
    ]


@pytest.mark.parametrize("text", [pytest.param("", id="empty"), pytest.param("# nothing yet\n", id="comment-only")])
def test_empty_file_problem_names_the_file(workdir: Path, text: str) -> None:
    """An empty config file is reported against the file itself, not against the profile."""
    (workdir / "webmcp.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load("webmcp.yaml", env={}, overrides=[Override(("profile",), "linux-cpu", "--profile")])
    assert [(p.source, p.message) for p in info.value.problems] == [("webmcp.yaml", "missing required key 'version'")]


def test_empty_static_content_says_what_is_wrong(workdir: Path) -> None:
    """`content: []` is reported as an empty list, not as 'must be a string'."""
    [error] = problems_of(workdir, "version: 1\ntools:\n  a: {kind: static, content: []}\n")
    assert error.startswith("webmcp.yaml:3:21: tools.a.content: ")
    assert "must be a string (got [])" not in error


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        pytest.param(lambda d: d / "missing.yaml", "No such file or directory", id="missing"),
        pytest.param(lambda d: d, "Is a directory", id="directory"),
        pytest.param(
            lambda d: (d / "latin1.yaml", (d / "latin1.yaml").write_bytes(b"version: 1\n\xff\n"))[0],
            "'utf-8' codec can't decode byte 0xff in position 11: invalid start byte",
            id="not-utf8",
        ),
    ],
)
def test_unreadable_file(tmp_path: Path, make: object, reason: str) -> None:
    """A file that cannot be read is one problem naming the file and the reason."""
    assert callable(make)
    path = make(tmp_path)
    with pytest.raises(ConfigError) as info:
        load(path, env={})
    assert [p.render() for p in info.value.problems] == [f"{path}: cannot read the config file: {reason}"]


def test_exit_code_of_config_error(workdir: Path) -> None:
    """A ConfigError carries exit code 3 and its text is the rendered problems, one per line."""
    (workdir / "webmcp.yaml").write_text("version: 2\nbogus: 1\n")
    with pytest.raises(ConfigError) as info:
        load("webmcp.yaml", env={})
    assert info.value.exit_code == 3
    assert str(info.value).splitlines() == [p.render() for p in info.value.problems]
    assert len(info.value.problems) == 2


def test_bad_tool_name_is_reported_at_the_name(workdir: Path) -> None:
    """An invalid entry name is located at the name itself, with the naming rule."""
    (workdir / "webmcp.yaml").write_text('version: 1\nprofile: none\ntools:\n  "bad name!":\n    kind: static\n'
                                         "    content: x\n")
    with pytest.raises(ConfigError) as info:
        load("webmcp.yaml")
    assert str(info.value) == (
        "webmcp.yaml:4:3: tools.bad name!: must be 1-128 characters of letters, digits, _ . - "
        '(not starting with . or -) (got "bad name!")'
    )


def test_unknown_priority_class_is_reported_at_the_priority_key(workdir: Path) -> None:
    """An undeclared `priority:` is a load error located at the key, for a tool and for an inline operation."""
    text = ("version: 1\nprofile: none\nexecutor: {priorities: {high: 2, low: 1}}\ntools:\n  greet:\n"
            "    kind: static\n    content: hi\n    priority: urgent\n  plain: {kind: static, content: x}\n"
            "master_tools:\n  m:\n    operations:\n      op: {kind: static, content: x, priority: hihg}\n")
    assert problems_of(workdir, text) == [
        'webmcp.yaml:8:5: tools.greet.priority: unknown priority class (got "urgent"); '
        "executor.priorities has: high, low",
        'webmcp.yaml:9:3: tools.plain.priority: unknown priority class (got "normal"); '
        "executor.priorities has: high, low",
        'webmcp.yaml:13:38: master_tools.m.operations.op.priority: unknown priority class (got "hihg"); '
        "executor.priorities has: high, low",
    ]


def test_unknown_shed_class_is_reported_at_its_item(workdir: Path) -> None:
    """A `scaling.shed` class that executor.priorities does not declare is located at its list item."""
    text = "version: 1\nprofile: none\nscaling: {shed: [low, lowest]}\ntools:\n  a: {kind: static, content: x}\n"
    assert problems_of(workdir, text) == [
        'webmcp.yaml:3:23: scaling.shed[1]: unknown priority class (got "lowest"); '
        "executor.priorities has: critical, high, normal, low",
    ]


def test_a_reference_of_a_tool_with_a_dot_in_its_name_is_located(workdir: Path) -> None:
    """Tool names may hold dots: an unknown breaker of tool `a.b` is reported at its own `breaker` key."""
    text = ("version: 1\nprofile: none\ntools:\n  a.b:\n    kind: static\n    content: hi\n    breaker: nope\n")
    assert problems_of(workdir, text) == [
        'webmcp.yaml:7:5: tools.a.b.breaker: no such entry in breakers: (got "nope"); breakers: has nothing',
    ]
