"""Plugin packages for the tests: the sample one of examples/ and three broken ones, pip-installed into a folder
of their own (put on PYTHONPATH of the servers the tests start), so the test run's virtualenv is left as it was."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

SAMPLE = Path(__file__).parents[2] / "examples" / "webmcp-greeting"

BROKEN = {
    # an import error; before failing it leaves a mark, so a test can tell whether webmcp imported it
    "webmcp-broken-import": ("tools.broken", """
        import os
        import pathlib

        if os.environ.get("PLUGIN_MARK"):
            pathlib.Path(os.environ["PLUGIN_MARK"]).write_text("imported")
        import webmcp_no_such_dependency  # noqa: F401
    """),
    # a schema that is not a JSON Schema
    "webmcp-bad-schema": ("tools.badschema", """
        from webmcp.config.registry import Kind, register
        from webmcp_greeting.kind import GreetingToolSpec, build

        SCHEMA = {"$id": "urn:webmcp:kinds/tools/badschema", "type": 12}
        KIND = register(Kind("tools", "badschema", GreetingToolSpec, build))
    """),
    # a kind name webmcp has built in
    "webmcp-collides": ("tools.static", """
        raise RuntimeError("never imported: the kind is refused")
    """),
}


def write_broken(folder: Path, dist: str, entry: str, body: str) -> Path:
    module = dist.replace("-", "_")
    root = folder / dist
    (root / module).mkdir(parents=True)
    (root / module / "__init__.py").write_text("")
    (root / module / "kind.py").write_text(textwrap.dedent(body))
    (root / "pyproject.toml").write_text(textwrap.dedent(f"""
        [build-system]
        requires = ["setuptools>=77"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "{dist}"
        version = "0.1.0"
        [project.entry-points."webmcp.kinds"]
        "{entry}" = "{module}.kind"
        [tool.setuptools]
        packages = ["{module}"]
    """))
    return root


def install(folder: Path) -> Path:
    """pip-installs the sample plugin and the broken ones into `folder`/site (built in copies: setuptools writes
    its build folders beside the sources). Offline: the build uses the setuptools of this virtualenv."""
    sources = folder / "src"
    sources.mkdir()
    packages = [shutil.copytree(SAMPLE, sources / SAMPLE.name, ignore=shutil.ignore_patterns("build", "*.egg-info"))]
    packages += [write_broken(sources, dist, entry, body) for dist, (entry, body) in BROKEN.items()]
    site = folder / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(site), *map(str, packages)], check=True, capture_output=True)
    return site
