"""Plugin discovery: entry points read without importing, collisions refused, `plugins:` pins, and the frozen
binary reading only the package metadata bundled into it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import webmcp.kinds.imports  # noqa: F401  (declares the built-in kinds)
from webmcp.config import plugins


def write_dist(folder: Path, name: str, entries: dict[str, str], version: str = "1.0") -> None:
    """A package's metadata as an installer leaves it (no module: discovery must not need one)."""
    info = folder / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = "".join(f"{key} = {value}\n" for key, value in entries.items())
    (info / "entry_points.txt").write_text(f"[webmcp.kinds]\n{lines}")


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    plugins.available.cache_clear()
    yield
    plugins.available.cache_clear()


def test_discovery_reads_metadata_and_refuses_colliding_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              fresh: None) -> None:
    """Every webmcp.kinds entry point is found without importing its module; a built-in name, a name two packages
    provide, and a malformed entry point name are refused with the reason."""
    write_dist(tmp_path, "one-plugin", {"tools.alpha": "one_plugin.alpha", "tools.static": "one_plugin.static",
                                        "tools.twin": "one_plugin.twin", "widgets.x": "one_plugin.x"})
    write_dist(tmp_path, "two-plugin", {"tools.twin": "two_plugin.twin"})
    monkeypatch.syspath_prepend(str(tmp_path))
    found = {(p.dist, p.section, p.name): p.refused for p in plugins.available()}
    assert found[("one-plugin", "tools", "alpha")] is None
    assert found[("one-plugin", "tools", "static")] == "tools kind 'static' is built into webmcp"
    assert found[("one-plugin", "tools", "twin")] == found[("two-plugin", "tools", "twin")] == (
        "tools kind 'twin' is provided by several packages: one-plugin, two-plugin")
    assert found[("one-plugin", "widgets", "x")] == ("its entry point name widgets.x is not <section>.<kind> "
                                                     "(sections: tools, pools, upstreams)")
    assert "one_plugin" not in sys.modules


def test_the_frozen_binary_reads_only_its_bundled_metadata(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           fresh: None) -> None:
    """In a one-file binary (sys.frozen), only the packages in its bundle (sys._MEIPASS) count: a plugin installed
    on the machine is not loaded by a binary that was not built with it."""
    installed, bundle = tmp_path / "site", tmp_path / "bundle"
    write_dist(installed, "on-the-machine", {"tools.local": "on_the_machine.kind"})
    write_dist(bundle, "built-in-plugin", {"tools.bundled": "built_in_plugin.kind"})
    monkeypatch.syspath_prepend(str(installed))
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    assert [(p.dist, p.name) for p in plugins.available()] == [("built-in-plugin", "bundled")]


@pytest.mark.parametrize(("pins", "allowed"), [
    (["webmcp-greeting"], True),
    (["Webmcp_Greeting"], True),  # names compare normalized (PEP 503)
    (["webmcp-greeting==0.1.0"], True),
    (["webmcp-greeting==0.2.0"], False),
    (["other"], False),
    ([], False),
])
def test_pins_allow_packages_by_normalized_name_and_exact_version(pins: list[str], allowed: bool) -> None:
    """`plugins:` entries are NAME or NAME==VERSION."""
    kind = plugins.PluginKind("tools", "greeting", "webmcp_greeting.kind", "webmcp-greeting", "0.1.0")
    parsed = plugins.pins_of({"plugins": pins})
    assert parsed is not None
    assert any(pin.allows(kind) for pin in parsed) is allowed
    assert plugins.pins_of({}) is None
