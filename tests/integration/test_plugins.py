"""Plugin kinds (entry point group webmcp.kinds) through real processes: the sample plugin of examples/ is built
and called with the official client; broken plugins are located errors, never a crash; `plugins:` pins them;
`webmcp validate` lists them without importing them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import connect, write_config
from tests.integration.plugins import install

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install(tmp_path_factory.mktemp("plugins"))


def env_with(site: Path, **more: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(site), "WEBMCP_CACHE_DIR": "off", **more}


def webmcp(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "webmcp", *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=60)


GREETING = """
version: 1
plugins: [webmcp-greeting==0.1.0]
tools:
  hello: {kind: greeting, greeting: Bonjour, punctuation: ".", tags: [social]}
  plain: {kind: static, content: plain}
"""


@pytest.mark.anyio
async def test_a_plugin_kind_is_built_and_called(workdir: Path, plugin_path: Path) -> None:
    """The sample plugin's `greeting` kind serves a tool like a built-in kind does."""
    config = write_config(workdir, GREETING)
    async with connect(config, env={"PYTHONPATH": str(plugin_path)}) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert tools["hello"].input_schema["required"] == ["name"]
        result = await session.call_tool("hello", {"name": "Ada"})
        assert not result.is_error
        assert result.structured_content == {"greeting": "Bonjour, Ada."}


def test_validate_lists_plugin_kinds_without_importing_them(workdir: Path, plugin_path: Path) -> None:
    """`webmcp validate` lists every installed plugin kind (refused ones with why), and imports none that the
    file does not use."""
    config = write_config(workdir, "version: 1\ntools:\n  plain: {kind: static, content: plain}\n")
    mark = workdir / "imported"
    done = webmcp("validate", "-c", str(config), env=env_with(plugin_path, PLUGIN_MARK=str(mark)), cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1:] == [
        "plugin kind tools/badschema (webmcp-bad-schema 0.1.0)",
        "plugin kind tools/broken (webmcp-broken-import 0.1.0)",
        "plugin kind tools/greeting (webmcp-greeting 0.1.0)",
        "plugin kind tools/static (webmcp-collides 0.1.0): refused, tools kind 'static' is built into webmcp",
    ]
    assert not mark.exists()


def test_broken_plugins_are_located_errors_not_a_crash(workdir: Path, plugin_path: Path) -> None:
    """A plugin that does not import, or whose schema is no JSON Schema, is a located problem of the file (exit 3)
    for validate and for serve; the other problems of the file are reported with it."""
    config = write_config(workdir, """
        version: 1
        tools:
          a: {kind: broken}
          b: {kind: badschema}
          c: {kind: greeting, greting: typo}
    """)
    env = env_with(plugin_path, PLUGIN_MARK=str(workdir / "imported"))
    done = webmcp("validate", "-c", str(config), env=env, cwd=workdir)
    assert done.returncode == 3
    assert done.stdout.splitlines() == [
        f"{config}:4:7: tools.a.kind: plugin webmcp-broken-import 0.1.0: importing webmcp_broken_import.kind failed: "
        "ModuleNotFoundError: No module named 'webmcp_no_such_dependency' (got \"broken\"); fix or reinstall "
        "webmcp-broken-import, or remove it from the environment",
        f"{config}:5:7: tools.b.kind: plugin webmcp-bad-schema 0.1.0: webmcp_bad_schema.kind.SCHEMA is not a valid "
        "JSON Schema: 12 is not valid under any of the given schemas (got \"badschema\"); fix or reinstall "
        "webmcp-bad-schema, or remove it from the environment",
        f"{config}:6:23: tools.c.greting: unknown key; did you mean 'greeting'?; allowed: annotations, breaker, "
        "cache, concurrency, deprecated, description, expose, fallback, greeting, input, invalidates, kind, output, "
        "priority, punctuation, rate_limit, scopes, split, tags, timeout, title, version",
    ]
    served = webmcp("serve", "-c", str(config), env=env, cwd=workdir)
    assert served.returncode == 3
    assert "Traceback" not in served.stderr and "tools.a.kind: plugin webmcp-broken-import" in served.stderr


def test_plugins_pins_which_packages_may_bring_kinds(workdir: Path, plugin_path: Path) -> None:
    """`plugins:` allows only the packages (and versions) it names; a kind name that collides with a built-in one
    is refused, and the built-in kind serves."""
    config = write_config(workdir, GREETING.replace("webmcp-greeting==0.1.0", "webmcp-greeting==0.2.0"))
    done = webmcp("validate", "-c", str(config), env=env_with(plugin_path), cwd=workdir)
    assert done.returncode == 3
    assert done.stdout.splitlines() == [
        f"{config}:5:11: tools.hello.kind: tools kind 'greeting' comes from plugin webmcp-greeting 0.1.0, which "
        "plugins: does not allow (got \"greeting\"); add webmcp-greeting to plugins: (allowed now: "
        "webmcp-greeting==0.2.0)",
    ]
    fine = webmcp("tools", "-c", str(write_config(workdir, GREETING)), env=env_with(plugin_path), cwd=workdir)
    assert fine.returncode == 0 and fine.stdout.splitlines()[-1].startswith("2 tools")
