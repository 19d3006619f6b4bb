"""`server.watch: true`: reload when the config file changes, through the same path as SIGHUP.

Contract:
- The config file's folder is watched (not recursively), not the file: an editor that saves by
  renaming, and a Kubernetes ConfigMap volume that swaps its `..data` symlink, replace the file
  rather than write it, and a watch on the file itself would be left on the old inode.
- Events are debounced: changes are gathered until the folder has been quiet for STEP ms (at most
  DEBOUNCE ms), then one reload is requested, and only if the bytes changed: the config file
  (followed through symlinks) and the python files beside it, as a digest. Logs or span files
  written in the folder therefore never cause a reload.
- A save that leaves the file half written or invalid gets a reload that fails, and the running
  config stays (reload.py); the write that completes the file changes the digest again and reloads.
- The watcher runs in the process that owns reloads: a lone server, or a supervisor (which reloads
  every worker); never in a worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

STEP = 100  # ms of quiet that end a burst of changes
DEBOUNCE = 1000  # ms at most that one burst is gathered


def digest(config: str | Path) -> str:
    """What a change must alter to cause a reload: the config file and the python files beside it."""
    config = Path(config).absolute()
    h = hashlib.blake2b(digest_size=16)
    for path in [config, *sorted(config.parent.glob("*.py"))]:
        h.update(path.name.encode())
        try:
            h.update(path.read_bytes())
        except OSError:  # being replaced, or removed: the digest differs, and the next event settles it
            h.update(b"\0missing")
    return h.hexdigest()


async def watch(config: str, reload: Callable[[], None], stop: asyncio.Event, baseline: str | None = None) -> None:
    """Call `reload()` after each change of the config file's content, until `stop` is set. `baseline`: the
    digest when the running config was read (a change made before the watch is set up is then caught by the
    first look, half a second in). A failing watcher is logged, never fatal."""
    try:
        await _watch(config, reload, stop, baseline)
    except Exception:
        log.exception("server.watch: the watcher stopped; reload with SIGHUP or `webmcp reload`")


async def _watch(config: str, reload: Callable[[], None], stop: asyncio.Event, baseline: str | None) -> None:
    from watchfiles import awatch

    path = Path(config).absolute()
    seen = baseline or await asyncio.to_thread(digest, path)
    first = True

    def relevant(_change: object, changed: str) -> bool:
        """The config file, the python files beside it, and Kubernetes' `..data` swaps."""
        name = Path(changed).name
        return name == path.name or name.endswith(".py") or name.startswith("..")

    log.info("watching %s for changes (server.watch)", path.parent)
    async for changes in awatch(path.parent, watch_filter=relevant, stop_event=stop, recursive=False,
                                debounce=DEBOUNCE, step=STEP, rust_timeout=500, yield_on_timeout=True):
        if not changes and not first:
            continue  # a quiet half second
        first = False
        now = await asyncio.to_thread(digest, path)
        if now == seen:
            continue
        seen = now
        log.info("%s changed: reloading (server.watch)", path.name)
        reload()


def start(config: str, reload: Callable[[], None], stop: asyncio.Event, baseline: str | None = None
          ) -> asyncio.Task[None]:
    """The watcher as a task of the running loop."""
    return asyncio.get_running_loop().create_task(watch(config, reload, stop, baseline))


async def cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
