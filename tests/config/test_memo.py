"""The validation memo never lets a problem through: verdicts are kept by content."""

from __future__ import annotations

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
