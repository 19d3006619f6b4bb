"""A model's `env:` reaches the environment before its backend is imported, never over the user's value."""

from __future__ import annotations

import logging
import os
import sys

import pytest

from webmcp.config.models import BatchSpec, ModelSpec
from webmcp.config.spec import Where
from webmcp.models import environment
from webmcp.models.environment import set_environment

WHERE = Where("webmcp.yaml", 1, 1, "models.m")


def spec(backend: str, **env: str) -> ModelSpec:
    return ModelSpec("m", "/nowhere", backend, "cpu", "float32", 1, False, BatchSpec(), 1, None,  # type: ignore[arg-type]
                     tuple(env.items()), WHERE, WHERE)


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WEBMCP_TEST_A", "WEBMCP_TEST_B"):
        monkeypatch.setenv(name, "")  # recorded, so what the test sets is undone after it
        monkeypatch.delenv(name)
    monkeypatch.setattr(environment, "_ours", {})


def test_unset_variables_are_set_and_the_users_are_kept(monkeypatch: pytest.MonkeyPatch,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("WEBMCP_TEST_B", "mine")
    monkeypatch.delitem(sys.modules, "onnxruntime", raising=False)
    with caplog.at_level(logging.INFO, "webmcp.models.environment"):
        set_environment(spec("onnx", WEBMCP_TEST_A="1", WEBMCP_TEST_B="theirs"))
    assert os.environ["WEBMCP_TEST_A"] == "1" and os.environ["WEBMCP_TEST_B"] == "mine"
    assert "model 'm': set WEBMCP_TEST_A=1" in caplog.text
    assert "WEBMCP_TEST_B=mine kept from the environment (the config's theirs is not applied)" in caplog.text
    assert "imported before" not in caplog.text


def test_a_variable_set_after_the_backend_was_imported_is_said_to_wait_for_a_restart(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "torch", sys)  # stands for an imported torch
    with caplog.at_level(logging.INFO, "webmcp.models.environment"):
        set_environment(spec("torch", WEBMCP_TEST_A="1"))
        set_environment(spec("torch", WEBMCP_TEST_A="2"))  # a reload changing our own value
    assert "WEBMCP_TEST_A=1 is set, but torch was imported before: it takes effect at the next start" in caplog.text
    assert "WEBMCP_TEST_A=1 was set for another model; 2 applies from the next start" in caplog.text
