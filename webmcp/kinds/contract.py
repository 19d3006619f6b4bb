"""What a kind's `build(spec, ctx)` may ask of the graph being built: the contract between the kinds
(below) and the graph builder (above, `graph/context.py` implements it).

Every kind module registers `Kind(section, name, SpecType, build)` (config/registry.py). Tools, pools
and upstreams have a schema at `schemas/kinds/<section>/<name>.schema.json`; their `build(spec, ctx)`
does the I/O the Spec describes and returns the runtime object, raising `ctx.fail(...)` for a problem
the config must fix. Balancers are the exception: they do no I/O and share one Spec (an upstream's
`Balancing`) and one schema (the `balance` enum of `schemas/upstream.schema.json`); their `build` is
`(endpoints, hash_on) -> Balancer`, called by the upstream kinds.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    import aiohttp
    from redis.asyncio import Redis

    from webmcp.config.spec import Where
    from webmcp.config.upstreams import BreakerSpec
    from webmcp.errors import BuildFailure
    from webmcp.executor.processes import WorkerProcesses
    from webmcp.executor.threads import WorkerThreads
    from webmcp.models.model import Model
    from webmcp.upstreams.destinations import Destinations
    from webmcp.upstreams.upstream import Upstream

T = TypeVar("T")
U = TypeVar("U", bound="Upstream")


class BuildContext(Protocol):
    @property
    def base_dir(self) -> Path:
        """The config file's folder: relative paths in the config are relative to it."""

    @property
    def error_details(self) -> bool:
        """`server.error_details`: tracebacks and upstream bodies in isError results."""

    @property
    def connects(self) -> bool:
        """Does this build reach network services (upstream MCP servers, Redis)? False for a static check
        (`webmcp validate` without --connect): a kind checks what it can without them and names the rest
        through `unchecked()`."""

    def unchecked(self, where: Where, message: str) -> None:
        """Record that the tool entry at `where` was not checked against its upstream, which a build that
        does not connect does not start; `message` says what is left unchecked."""

    def fail(self, where: Where, message: str, got: str | None = None, hint: str | None = None) -> BuildFailure:
        """The exception to raise for a problem at `where` (collected with the build's other problems)."""

    def share(self, key: tuple[Hashable, ...], make: Callable[[], T], close: Callable[[T], object]) -> T:
        """The component for `key` (its name and every setting it is built from): this build's, the
        previous Graph's (kept across a reload), or `make()`. `close` runs when its last Graph closes."""

    def on_close(self, callback: Callable[[], object]) -> None:
        """Run `callback` when this Graph closes."""

    def import_function(self, reference: str, where: Where) -> Callable[..., Any]:
        """`package.module:attr` from the config's folder, or a BuildFailure saying why not."""

    def thread_pool(self) -> WorkerThreads:
        """The worker threads of sync python functions (`executor.threads`)."""

    def process_pool(self) -> WorkerProcesses:
        """The worker processes of `isolation: process` tools (`executor.processes`)."""

    async def http_session(self, pool: str | None) -> aiohttp.ClientSession:
        """The session of the `pools:` entry `pool` (kind http), or of the default pool for None."""

    async def guarded_http_session(self, pool: str | None, destinations: Destinations) -> aiohttp.ClientSession:
        """A session with the settings of the `pools:` entry `pool` (or the default pool), on a connector of
        its own whose connections go only where `destinations` allows (one per pool and policy)."""

    async def redis(self, pool: str) -> Redis:
        """The client of the `pools:` entry `pool` (kind redis)."""

    def breaker_spec(self, name: str | None) -> BreakerSpec | None:
        """The `breakers:` entry `name`, None for None."""

    async def model(self, name: str) -> Model:
        """The `models:` entry `name` at run time: one per Graph, kept across reloads that leave it unchanged,
        loaded here with `preload: true` (a failure is a build problem at the entry)."""

    async def upstream(self, name: str, expected: type[U]) -> U:
        """The runtime of the `upstreams:` entry `name` (one per Graph, kept across reloads)."""
