"""The user's python code: importing a tool function from the config's folder, and forgetting those
modules before a reload so that edited files are read again."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


class NotCallable(TypeError):
    pass


def resolve_function(reference: str, base_dir: str) -> Callable[..., Any]:
    """Import `package.module:attr`; the config file's folder is importable."""
    module_name, _, attr = reference.partition(":")
    if base_dir not in sys.path:
        sys.path.insert(0, base_dir)
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise NotCallable(f"{reference} is a {type(obj).__name__}, not a function")
    return obj  # type: ignore[no-any-return]


def forget_user_modules(base_dir: Path) -> None:
    """Drop the user's tool modules (loaded from the config's folder) from sys.modules, so the next
    import reads the files again. webmcp itself and anything installed (under sys.prefix, or in a
    site-packages folder) stay: re-importing them would split class identities."""
    root = str(base_dir.resolve()) + "/"
    installed = (str(Path(sys.prefix).resolve()) + "/", str(Path(sys.base_prefix).resolve()) + "/")
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if (not path or name == "__main__" or name == "webmcp" or name.startswith("webmcp.")
                or not path.startswith(root) or path.startswith(installed) or "site-packages" in path
                or not path.endswith(".py")):  # compiled extensions cannot be loaded twice
            continue
        del sys.modules[name]
        # The .pyc is trusted by mtime (whole seconds) and size: an edit within the same second that
        # keeps the size would be missed. Drop it so the source is read again.
        with contextlib.suppress(OSError, NotImplementedError, ValueError):
            os.unlink(importlib.util.cache_from_source(path))
    importlib.invalidate_caches()  # new module files since the last import
