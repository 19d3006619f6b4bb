"""The validation memo never lets a problem through: verdicts are kept by content."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from webmcp.config.load import load
from webmcp.errors import ConfigError


def test_an_edited_file_is_checked_again(tmp_path: Path) -> None:
    """A file that passed, then edited into an invalid one, gets its located error on the next load."""
    config = tmp_path / "webmcp.yaml"
    config.write_text("version: 1\nprofile: none\ntools:\n  hello: {kind: static, content: hi}\n")
    load(config)
    load(config)  # from the memo
    config.write_text("version: 1\nprofile: none\ntools:\n  hello: {kind: static, content: hi, timeout: fast}\n")
    with pytest.raises(ConfigError) as raised:
        load(config)
    assert "webmcp.yaml:4:38: tools.hello.timeout" in str(raised.value)


def test_the_same_document_under_other_variables_is_checked_for_each(tmp_path: Path) -> None:
    """The memo keys the document after ${VAR} expansion: a bad value from the environment is caught."""
    config = tmp_path / "webmcp.yaml"
    config.write_text("version: 1\nprofile: none\ntools:\n  hello: {kind: static, content: hi, timeout: ${T}}\n")
    load(config, env={"T": "2s"})
    with pytest.raises(ConfigError, match=r"tools\.hello\.timeout"):
        load(config, env={"T": "fast"})


@pytest.mark.parametrize(("passes", "fails", "error"), [
    ('tools:\n  "1": {kind: static, content: hi}\n', "tools:\n  1: {kind: static, content: hi}\n", "tools"),
    ('tools:\n  t: {kind: static, content: hi, description: "2024-01-01"}\n',
     "tools:\n  t: {kind: static, content: hi, description: 2024-01-01}\n", "tools.t.description"),
], ids=["integer-key", "date"])
def test_yaml_values_json_cannot_tell_apart_are_checked_every_time(tmp_path: Path, passes: str, fails: str,
                                                                   error: str) -> None:
    """A YAML integer key or date prints like the string that passed; the memo does not confuse them."""
    config = tmp_path / "webmcp.yaml"
    config.write_text("version: 1\nprofile: none\n" + passes)
    load(config)
    config.write_text("version: 1\nprofile: none\n" + fails)
    with pytest.raises(ConfigError, match=re.escape(error)):
        load(config)


def test_a_memo_folder_others_can_write_is_not_trusted(tmp_path: Path) -> None:
    """With WEBMCP_CACHE_DIR writable by others, verdicts are neither read nor written there."""
    cache = tmp_path / "cache"
    (cache / "validated").mkdir(parents=True)
    (cache / "validated").chmod(0o777)
    config = tmp_path / "webmcp.yaml"
    config.write_text("version: 1\nprofile: none\ntools:\n  t: {kind: static, content: hi}\n")
    probe = ("import sys, webmcp.kinds.imports; from webmcp.config.load import load; load(sys.argv[1]); "
             "print('jsonschema' in sys.modules)")
    env = {**os.environ, "WEBMCP_CACHE_DIR": str(cache)}
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", probe, str(config)], env=env, capture_output=True, text=True,
                             timeout=60, check=True).stdout
        assert out.strip() == "True"
    assert list((cache / "validated").iterdir()) == []
