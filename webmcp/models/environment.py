"""The environment a model's backend reads once, at import: `env:` of a `models:` entry or of
`model_defaults:` (which hardware profiles set), applied before the first import of torch or ONNX Runtime.

A variable already in the environment is never overridden: the user's value wins, and the log says so.
A variable that would change after the backend was imported has no effect until a restart; the log says
that too.
"""

from __future__ import annotations

import logging
import os
import sys

from webmcp.config.models import ModelSpec

log = logging.getLogger(__name__)

BACKEND_MODULES = {"torch": "torch", "onnx": "onnxruntime"}
_ours: dict[str, str] = {}  # what this process set, so a later model's same value is no conflict


def set_environment(spec: ModelSpec) -> None:
    imported = BACKEND_MODULES[spec.backend] in sys.modules
    for name, value in spec.env:
        current = os.environ.get(name)
        if current is None:
            if imported:
                log.warning("model %r: %s=%s is set, but %s was imported before: it takes effect at the next "
                            "start", spec.name, name, value, BACKEND_MODULES[spec.backend])
            os.environ[name] = _ours[name] = value
            log.info("model %r: set %s=%s", spec.name, name, value)
        elif current != value and _ours.get(name) != current:
            log.info("model %r: %s=%s kept from the environment (the config's %s is not applied)", spec.name,
                     name, current, value)
        elif current != value:
            log.warning("model %r: %s=%s was set for another model; %s applies from the next start", spec.name,
                        name, current, value)
