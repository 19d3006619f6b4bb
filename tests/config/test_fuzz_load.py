"""The config loader against arbitrary documents (hypothesis, seeded and bounded): every input gives a Spec or
a ConfigError whose problems are located, never another exception."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webmcp.config.load import load
from webmcp.config.spec import ConfigSpec
from webmcp.errors import ConfigError

FUZZ = settings(derandomize=True, database=None, max_examples=300, deadline=2000,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# Words the loader knows, so generated documents reach past the first unknown key into the kinds' own code.
KEYS = ["version", "server", "tools", "master_tools", "pools", "caches", "upstreams", "breakers", "executor",
        "scaling", "telemetry", "resources", "prompts", "models", "kind", "function", "request", "url", "path",
        "method", "query", "headers", "body", "argv", "content", "timeout", "cache", "use", "key", "ttl", "tags",
        "invalidates", "rate_limit", "priority", "operations", "upstream", "endpoints", "balance", "http", "auth",
        "tls", "issuer", "audience", "jwks_url", "jwks_file", "scopes", "allow_hosts", "allow_private", "split",
        "fallback", "breaker", "retry", "input", "output", "strategy", "max_entries", "backend", "transport",
        "port", "host", "spans", "listen", "targets", "workers", "uri", "text", "messages", "arguments", "t", "x"]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 70000), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["5s", "250ms", "1m", "4MiB", "100/min", "http", "python", "static", "http://127.0.0.1:9/{q}",
                     "https://{host}/x", "{x}", "{", "}}", "${X}", "${X:-d}", "$${X}", "mod:fn", "lru", "redis",
                     "0.0.0.0", "10.0.0.0/8", "high", "", " ", "\x00", "é", "-1s", "1e9h", "http://[::1",
                     "https://[x]:1/", "http://h:99999/", "http://u:p@h/"]),
    st.text(max_size=12),
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=5)),
    max_leaves=30,
)


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    saved = os.environ.get("WEBMCP_CACHE_DIR")
    os.environ["WEBMCP_CACHE_DIR"] = "off"
    yield tmp_path
    if saved is None:
        del os.environ["WEBMCP_CACHE_DIR"]
    else:
        os.environ["WEBMCP_CACHE_DIR"] = saved


def outcome(folder: Path, text: str) -> ConfigSpec | ConfigError:
    try:
        return load(str(folder / "webmcp.yaml"), env={"X": "value"}, text=text)
    except ConfigError as exc:
        assert exc.problems, f"a ConfigError without problems for {text!r}"
        for problem in exc.problems:
            assert problem.source and problem.message and problem.render()
            assert problem.line is not None or problem.path == "" or problem.source != "webmcp.yaml", problem
        return exc


@FUZZ
@given(document=DOCUMENTS, versioned=st.booleans())
def test_documents_of_known_keys_give_a_spec_or_located_problems(folder: Path, document: Any, versioned: bool) -> None:
    """YAML documents built from the loader's own vocabulary: a Spec, or problems with file and line."""
    if versioned and isinstance(document, dict):
        document = {"version": 1, **document}
    outcome(folder, yaml.safe_dump(document, allow_unicode=True))


@FUZZ
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=200)
       | st.lists(st.sampled_from(["version: 1\n", "tools:\n", "  a:\n", "    kind: static\n", "    content: hi\n",
                                   "{", "[", "- ", ": ", "&a ", "*a ", "!!python/object ", "${", "\t", "\n",
                                   "'", '"', "#", "---\n", "? ", "|\n", "<<: *a\n"]), max_size=25).map("".join))
def test_any_text_gives_a_spec_or_located_problems(folder: Path, text: str) -> None:
    """Arbitrary text, and fragments of YAML syntax (anchors, tags, merges, bad indentation, ${...}): the same."""
    outcome(folder, text)


BASE: dict[str, Any] = {
    "version": 1,
    "server": {"transport": "http", "http": {"port": 8765, "auth": {"issuer": "https://i", "audience": "https://a/mcp",
                                                                    "jwks_url": "https://i/jwks"},
                                             "tls": {"cert": "c.pem", "key": "k.pem"}}},
    "executor": {"threads": 4, "priorities": {"high": 4, "normal": 2}, "client_rate_limit": "10/s"},
    "pools": {"p": {"kind": "http", "max_connections": 10}, "r": {"kind": "redis", "url": "redis://127.0.0.1:6379"}},
    "caches": {"hot": {"strategy": "lru", "max_entries": 10, "ttl": "5m"}},
    "breakers": {"b": {"failure_threshold": 5, "recovery_timeout": "30s"}},
    "upstreams": {"api": {"kind": "http", "endpoints": ["http://127.0.0.1:9001"], "balance": "round_robin",
                          "retry": {"attempts": 2, "backoff": "100ms"}, "breaker": "b"}},
    "tools": {
        "search": {"kind": "http", "upstream": "api", "request": {"path": "/s", "query": {"q": "{q}"}},
                   "cache": {"use": "hot", "key": ["q"]}, "scopes": ["read"], "rate_limit": "5/s"},
        "fetch": {"kind": "http", "request": {"url": "http://{host}/x"}, "allow_private": True},
        "run": {"kind": "command", "argv": ["echo", "{x}"]},
        "about": {"kind": "static", "content": "hi"},
        "py": {"kind": "python", "function": "m:f"},
    },
    "master_tools": {"box": {"description": "d",
                             "operations": {"a": "about", "s": {"kind": "static", "content": "x"}}}},
    "telemetry": {"metrics": True, "spans": {"path": "s.jsonl"}},
}


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


PATHS = _paths(BASE)[1:]


def _replaced(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    if isinstance(node, dict):
        return {k: (_replaced(v, path[1:], value) if k == path[0] else v) for k, v in node.items()}
    return [(_replaced(v, path[1:], value) if i == path[0] else v) for i, v in enumerate(node)]


@FUZZ
@given(changes=st.lists(st.tuples(st.sampled_from(PATHS), DOCUMENTS), min_size=1, max_size=3))
def test_a_full_config_with_any_part_replaced_gives_a_spec_or_located_problems(
    folder: Path, changes: list[tuple[tuple[Any, ...], Any]]
) -> None:
    """A config using most sections, one to three of its values (anywhere) replaced by arbitrary ones: the
    kinds' own parsing code sees every kind of wrong value."""
    document: Any = BASE
    for path, value in changes:
        try:
            document = _replaced(document, path, value)
        except (IndexError, TypeError):  # an earlier change removed the place
            continue
    outcome(folder, yaml.safe_dump(document, allow_unicode=True))


def test_the_base_config_is_valid(folder: Path) -> None:
    """The config the previous test mutates loads as it is (so the mutations are what the test exercises)."""
    assert isinstance(outcome(folder, yaml.safe_dump(BASE)), ConfigSpec)


def _at(node: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        node = node[step]
    return node


# Every string of BASE that is a URL, an address or a template: where parsing code lives.
URL_PATHS = [p for p in PATHS if isinstance(_at(BASE, p), str) and any(c in _at(BASE, p) for c in ":/{")]
URLISH = st.builds(lambda head, body, tail: head + body + tail,
                   st.sampled_from(["http://", "https://", "htp://", "http://[", "http://[::1]:", "redis://", "//",
                                    "http://u:p@", "http://{h}", "", "http://127.0.0.1:", "unix:"]),
                   st.text(alphabet="[]:@/?#%{}.0123456789abcdefx-_ ", max_size=12),
                   st.sampled_from(["", "/", ":99999", "]", "/{q}", "?a=b", "#f", "%zz"]))


@FUZZ
@given(changes=st.lists(st.tuples(st.sampled_from(URL_PATHS), URLISH), min_size=1, max_size=3))
def test_urls_addresses_and_templates_of_any_shape(folder: Path, changes: list[tuple[tuple[Any, ...], str]]) -> None:
    """Every URL, address and template of the full config replaced by URL-like text (brackets, ports out of
    range, credentials, bad escapes): a Spec or located problems."""
    document: Any = BASE
    for path, value in changes:
        document = _replaced(document, path, value)
    outcome(folder, yaml.safe_dump(document, allow_unicode=True))
