"""The project installs cleanly with pip: pyproject.toml is what current setuptools asks for."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_pip_builds_the_project_without_a_deprecation_warning(tmp_path: Path) -> None:
    """pip builds the project (isolated, with the setuptools build-system.requires names) and setuptools
    warns of nothing deprecated, such as a `project.license` table."""
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, tmp_path / name)
    for folder in ("webmcp", "schemas", "profiles"):  # a copy: the build leaves nothing in the checkout
        shutil.copytree(REPO / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--no-cache-dir", "-v",
                           str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Would install webmcp-" in done.stdout
    assert "DeprecationWarning" not in done.stdout + done.stderr
