"""What a bench run can fail with. The CLI turns each into a message and its exit code."""

from __future__ import annotations

from webmcp.errors import WebmcpError


class BenchUsageError(WebmcpError):
    """Bad flags, a bad scenario file, an unknown tool, arguments its schema refuses: nothing was run."""

    exit_code = 2


class ServerUnavailable(WebmcpError):
    """The server could not be started or reached, or it failed `initialize`: nothing was run."""

    exit_code = 1


class GateFailed(WebmcpError):
    """The run completed, but a threshold or the baseline comparison failed."""

    exit_code = 5


class MissingExtra(BenchUsageError):
    """A library of the `bench` extra is not installed."""

    def __init__(self, module: str) -> None:
        super().__init__(f"webmcp bench needs {module!r}, from the bench extra: pip install 'webmcp[bench]'")
