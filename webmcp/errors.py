"""The error hierarchy. Library code raises these; only the CLI turns them into exit codes."""

from __future__ import annotations

from dataclasses import dataclass


class WebmcpError(Exception):
    """Root of every error webmcp raises on purpose."""

    exit_code = 1


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the configuration, located as precisely as we can."""

    source: str  # file name, "env WEBMCP_PORT", "--port", ...
    line: int | None
    column: int | None
    path: str  # dotted key path, e.g. "tools.search.timeout"; "" for the whole document
    message: str
    got: str | None = None  # short rendering of the bad value
    hint: str | None = None

    @property
    def place(self) -> tuple[str, int, int, str]:
        """For sorting problems in the order they are written."""
        return self.source, self.line or 0, self.column or 0, self.path

    def render(self) -> str:
        where = self.source
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: {self.path + ': ' if self.path else ''}{self.message}"
        if self.got is not None:
            text += f" (got {self.got})"
        if self.hint:
            text += f"; {self.hint}"
        return text

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
            "got": self.got,
            "hint": self.hint,
        }


class ConfigError(WebmcpError):
    """The configuration is invalid. Carries every problem found, not just the first."""

    exit_code = 3

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: p.place)
        super().__init__("\n".join(p.render() for p in self.problems))


class BuildError(ConfigError):
    """The configuration is valid but a component could not be built (import failed, bad function...)."""

    exit_code = 4


class BuildFailure(Exception):
    """One component could not be built; the graph builder collects these into a BuildError."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.render())
        self.problem = problem


class TransportUnavailable(WebmcpError):
    """The configured transport cannot be served by this build."""

    exit_code = 2


class ToolError(Exception):
    """Raise from a tool to return an `isError` result with exactly this message (no traceback)."""


class ClientRequestError(ToolError):
    """A request to the client (sampling, elicitation, roots) failed or is not possible. A ToolError:
    unless the tool handles it, the call ends with an isError result carrying this message."""


class ProtocolError(Exception):
    """A JSON-RPC level fault: becomes an error response with this code."""

    def __init__(self, code: int, message: str, data: object = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


def count(n: int, noun: str) -> str:
    """`1 file`, `3 files`: a count in a message."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
