"""Layering: defaults < profile < file < overrides (env and flags), and where each problem is blamed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from webmcp.config import layers
from webmcp.config.layers import Override
from webmcp.config.load import load
from webmcp.config.spec import ConfigSpec
from webmcp.errors import ConfigError

PROFILE = "executor: {threads: 7}\nserver: {name: from-profile, page_size: 9, log_level: debug}\n"
FILE = "version: 1\nprofile: dev.yaml\nserver:\n  name: from-file\n  log_level: warning\n  http: {port: 1000}\n"
FLAGS = [
    Override(("server", "log_level"), "error", "--log-level"),
    Override(("server", "http", "host"), "0.0.0.0", "env WEBMCP_HOST"),
]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary current folder, so error lines start with the relative name `webmcp.yaml`."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def load_text(folder: Path, text: str, overrides: list[Override] | None = None) -> ConfigSpec:
    (folder / "webmcp.yaml").write_text(text)
    return load("webmcp.yaml", env={}, overrides=overrides)


def problems_of(folder: Path, text: str, overrides: list[Override] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_text(folder, text, overrides)
    return [p.render() for p in info.value.problems]


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        pytest.param("graceful_timeout", 30.0, id="default-when-no-layer-sets-it"),
        pytest.param("page_size", 9, id="profile-beats-default"),
        pytest.param("name", "from-file", id="file-beats-profile"),
        pytest.param("http.port", 1000, id="file-beats-default"),
        pytest.param("log_level", "error", id="flag-beats-file-and-profile"),
        pytest.param("http.host", "0.0.0.0", id="env-beats-default"),
    ],
)
def test_layer_precedence(workdir: Path, field: str, expected: Any) -> None:
    """Each setting comes from the highest layer that sets it: defaults < profile < file < overrides."""
    (workdir / "dev.yaml").write_text(PROFILE)
    spec = load_text(workdir, FILE, FLAGS)
    value: Any = spec.server
    for part in field.split("."):
        value = getattr(value, part)
    assert value == expected


def test_profile_file_sets_sections_the_file_lacks(workdir: Path) -> None:
    """A section only the profile sets is used as is; the spec records the profile by the name given."""
    (workdir / "dev.yaml").write_text(PROFILE)
    spec = load_text(workdir, FILE)
    assert (spec.executor.threads, spec.profile) == (7, "dev.yaml")


def test_later_override_of_same_key_wins(workdir: Path) -> None:
    """Of two overrides of one key, the later one (the flag after the env variable) wins."""
    flags = [
        Override(("server", "http", "port"), 2000, "env WEBMCP_PORT"),
        Override(("server", "http", "port"), 3000, "--port"),
    ]
    assert load_text(workdir, FILE.replace("profile: dev.yaml\n", ""), flags).server.http.port == 3000


@pytest.mark.parametrize(
    ("profile", "threads"),
    [
        pytest.param("apple-silicon", 16, id="apple-silicon"),
        pytest.param("none", min(32, (os.cpu_count() or 1) + 4), id="none-leaves-the-default"),
    ],
)
def test_builtin_profile_by_name(workdir: Path, profile: str, threads: int) -> None:
    """A built-in profile is chosen by name; `none` applies no profile."""
    spec = load_text(workdir, f"version: 1\nprofile: {profile}\n")
    assert (spec.profile, spec.executor.threads) == (profile, threads)


def test_profile_chosen_by_override(workdir: Path) -> None:
    """A `profile` override replaces the file's `profile:`."""
    spec = load_text(workdir, "version: 1\nprofile: none\n", [Override(("profile",), "apple-silicon", "--profile")])
    assert (spec.profile, spec.executor.threads) == ("apple-silicon", 16)


def test_profile_path_is_relative_to_the_config_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A profile given as a path is found next to the config file, whatever the current folder."""
    (tmp_path / "conf" / "profiles").mkdir(parents=True)
    (tmp_path / "conf" / "profiles" / "dev.yaml").write_text("executor: {threads: 5}\n")
    (tmp_path / "conf" / "webmcp.yaml").write_text("version: 1\nprofile: profiles/dev.yaml\n")
    monkeypatch.chdir(tmp_path)
    assert load("conf/webmcp.yaml", env={}).executor.threads == 5


def test_unknown_profile_lists_known_ones(workdir: Path) -> None:
    """An unknown profile name is refused, listing auto, none and every built-in profile."""
    known = ", ".join(["auto", "none", *layers.builtin_profiles()])
    assert {"apple-silicon", "linux-cpu"} <= set(layers.builtin_profiles())
    assert problems_of(workdir, "version: 1\nprofile: bogus\n") == [
        f'webmcp.yaml:2:1: profile: no such profile (got "bogus"); use one of {known}, or a path to a .yaml file'
    ]


def test_unknown_profile_from_override_is_blamed_on_its_label(workdir: Path) -> None:
    """An unknown profile given by a flag is reported against that flag."""
    known = ", ".join(["auto", "none", *layers.builtin_profiles()])
    flags = [Override(("profile",), "bogus", "--profile")]
    assert problems_of(workdir, "version: 1\nprofile: none\n", flags) == [
        f'--profile: profile: no such profile (got "bogus"); use one of {known}, or a path to a .yaml file'
    ]


def test_missing_profile_file(workdir: Path) -> None:
    """A profile path that does not exist is reported like an unknown profile name."""
    known = ", ".join(["auto", "none", *layers.builtin_profiles()])
    assert problems_of(workdir, "version: 1\nprofile: nowhere/dev.yaml\n") == [
        f'webmcp.yaml:2:1: profile: no such profile (got "nowhere/dev.yaml"); use one of {known}, '
        "or a path to a .yaml file"
    ]


def test_problem_in_profile_is_blamed_on_the_profile(workdir: Path) -> None:
    """A bad value that comes from a profile file is reported at its line in that file."""
    (workdir / "bad.yaml").write_text("# a profile\nexecutor: {threads: 0}\n")
    assert problems_of(workdir, "version: 1\nprofile: bad.yaml\n") == [
        f"{(workdir / 'bad.yaml').resolve()}:2:12: executor.threads: must be auto or a whole number from 1 to 1024 "
        "(got 0)"
    ]


@pytest.mark.parametrize(
    ("override", "errors"),
    [
        pytest.param(
            Override(("server", "http", "port"), "abc", "--port"),
            ['--port: server.http.port: must be a whole number (got "abc")'],
            id="flag-bad-type",
        ),
        pytest.param(
            Override(("server", "http", "port"), 70000, "env WEBMCP_PORT"),
            ["env WEBMCP_PORT: server.http.port: must be at most 65535 (got 70000)"],
            id="env-out-of-range",
        ),
        pytest.param(
            Override(("server", "graceful_timeout"), "soon", "--graceful-timeout"),
            [
                "--graceful-timeout: server.graceful_timeout: must be a duration with a unit, like 250ms, 2s, 5m or 1h "
                '(got "soon")'
            ],
            id="flag-bad-duration",
        ),
    ],
)
def test_override_problem_is_blamed_on_its_label(workdir: Path, override: Override, errors: list[str]) -> None:
    """A bad override value is reported with the override's label as the source, even if the file set the key."""
    assert problems_of(workdir, "version: 1\nprofile: none\nserver: {http: {port: 1000}}\n", [override]) == errors


@pytest.mark.parametrize(
    ("base", "top", "merged"),
    [
        pytest.param({"a": 1}, {"b": 2}, {"a": 1, "b": 2}, id="disjoint-keys"),
        pytest.param({"a": {"x": 1, "y": 2}}, {"a": {"y": 3}}, {"a": {"x": 1, "y": 3}}, id="nested-mappings-merge"),
        pytest.param({"a": [1, 2]}, {"a": [3]}, {"a": [3]}, id="lists-replace"),
        pytest.param({"a": {"x": 1}}, {"a": 5}, {"a": 5}, id="scalar-replaces-mapping"),
        pytest.param({"a": 5}, {"a": {"x": 1}}, {"a": {"x": 1}}, id="mapping-replaces-scalar"),
        pytest.param({}, {"a": None}, {"a": None}, id="explicit-null-kept"),
    ],
)
def test_merge(base: dict[str, Any], top: dict[str, Any], merged: dict[str, Any]) -> None:
    """merge() deep-merges mappings; anything else in the upper layer replaces the lower one."""
    assert layers.merge(base, top) == merged


@pytest.mark.parametrize(
    ("doc", "overrides", "result"),
    [
        pytest.param({}, [Override(("a", "b"), 1, "--b")], {"a": {"b": 1}}, id="creates-missing-parents"),
        pytest.param({"a": {"c": 2}}, [Override(("a", "b"), 1, "--b")], {"a": {"b": 1, "c": 2}}, id="keeps-siblings"),
        pytest.param({"a": 1}, [Override(("a",), 2, "--a"), Override(("a",), 3, "--a")], {"a": 3}, id="last-wins"),
    ],
)
def test_apply(doc: dict[str, Any], overrides: list[Override], result: dict[str, Any]) -> None:
    """apply() sets each override's key path in order, without changing the input document."""
    before = repr(doc)
    assert layers.apply(doc, overrides) == result
    assert repr(doc) == before
