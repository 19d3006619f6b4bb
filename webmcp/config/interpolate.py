"""`${VAR}` expansion on the raw YAML text, before parsing.

Forms: `${VAR}`, `${VAR:-default}` (default when unset or empty), `${VAR-default}` (when unset),
`${VAR:?message}` / `${VAR?message}` (an error with that message), and `$${...}` for a literal `${...}`.

Only references inside YAML scalars are expanded (PyYAML's scanner says where scalars are and how
they are quoted), so a commented-out `${TOKEN}` never fails a load. A value is escaped for the
quoting it lands in; a value that would change the document's structure in an unquoted scalar
(`: `, ` #`, a leading indicator, flow punctuation) is refused with a "quote it" hint instead of
being parsed into something else.

Every problem is reported at once. Line structure never changes (a value containing a newline is
refused), and each line keeps a map from expanded columns back to original ones, so errors found
later by the parser or the schema point at the column the user wrote.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, replace

import orjson
import yaml

from webmcp.call.results import SHORTEST_HIDDEN, hide
from webmcp.errors import Problem

_REF = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_BODY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)(.*)|(:?\?)(.*))?$", re.DOTALL)
_UNSAFE_PLAIN = re.compile(r"^[-?:,\[\]{}#&*!|>'\"%@`\s]|: |:$| #|\s$")
_UNSAFE_IN_FLOW = re.compile(r"[,\[\]{}]")


@dataclass(slots=True)
class ColumnMap:
    """Maps 0-based columns of expanded lines back to the original text's columns."""

    # per line: (expanded_start, original_start, expanded_end, original_end) of each replaced span
    spans: dict[int, list[tuple[int, int, int, int]]] = field(default_factory=dict)
    # each value that came from the environment (not a default written in the file) → the reference as
    # written, `${NAME}`: what problems show in its place (see `conceal`)
    secrets: dict[str, str] = field(default_factory=dict)

    def original(self, line: int, column: int) -> int:
        shift = 0
        for exp_start, orig_start, exp_end, orig_end in self.spans.get(line, ()):
            if column < exp_start:
                break
            if column < exp_end:
                return orig_start  # inside an expanded value: point at its `${`
            shift = orig_end - exp_end
        return column + shift


@dataclass(frozen=True, slots=True)
class _Scalar:
    start: int
    end: int
    style: str | None  # None plain, '"', "'", '|', '>'
    in_flow: bool


def _scalars(text: str) -> tuple[list[_Scalar], int | None]:
    """Every scalar's extent and style; plus the offset where scanning failed, if it did."""
    found: list[_Scalar] = []
    depth = 0
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if isinstance(token, (yaml.FlowMappingStartToken, yaml.FlowSequenceStartToken)):
                depth += 1
            elif isinstance(token, (yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)):
                depth = max(0, depth - 1)
            elif isinstance(token, yaml.ScalarToken):
                found.append(_Scalar(token.start_mark.index, token.end_mark.index, token.style, depth > 0))
    except yaml.MarkedYAMLError as exc:
        # The parser will report the syntax error; references after it are expanded as they stand.
        mark = exc.problem_mark or exc.context_mark
        return found, (mark.index if mark else 0)
    return found, None


def expand(text: str, env: Mapping[str, str], source: str) -> tuple[str, ColumnMap, list[Problem]]:
    """Expand references in `text`; returns the new text, the column map and every problem found."""
    problems: list[Problem] = []
    cmap = ColumnMap()
    if "${" not in text:
        return text, cmap, problems
    scalars, failed_at = _scalars(text)
    starts = [s.start for s in scalars]
    line_starts = [0, *(m.end() for m in re.finditer("\n", text))]
    shifts: dict[int, int] = {}
    out: list[str] = []
    pos = 0
    for m in _REF.finditer(text):
        scalar = _containing(scalars, starts, m.start())
        if scalar is None and (failed_at is None or m.start() < failed_at):
            continue  # in a comment
        line = bisect.bisect_right(line_starts, m.start()) - 1
        col = m.start() - line_starts[line]
        if m.group(0) == "$${":
            value = "${"
        else:
            raw = _resolve(m.group(1), env, source, line + 1, col + 1, problems)
            value = _fit(raw, scalar, m.group(1), source, line + 1, col + 1, problems)
            body = _BODY.match(m.group(1))
            if raw and body is not None and env.get(body.group(1)) == raw:
                cmap.secrets[raw] = f"${{{body.group(1)}}}"
        shift = shifts.get(line, 0)
        end = m.end() - line_starts[line]
        cmap.spans.setdefault(line, []).append((col + shift, col, col + shift + len(value), end))
        shifts[line] = shift + len(value) - (m.end() - m.start())
        out.append(text[pos : m.start()])
        out.append(value)
        pos = m.end()
    out.append(text[pos:])
    return "".join(out), cmap, problems


def references(text: str) -> dict[str, bool]:
    """The variables `text` refers to (comments excluded), each with whether it may be unset (it has a
    `:-` or `-` default): what `webmcp deploy` turns into Secret references."""
    found: dict[str, bool] = {}
    if "${" not in text:
        return found
    scalars, failed_at = _scalars(text)
    starts = [s.start for s in scalars]
    for m in _REF.finditer(text):
        if m.group(0) == "$${" or (_containing(scalars, starts, m.start()) is None
                                   and (failed_at is None or m.start() < failed_at)):
            continue
        body = _BODY.match(m.group(1))
        if body is not None:
            name, optional = body.group(1), body.group(2) is not None
            found[name] = found.get(name, True) and optional
    return found


# The values the load under way took from the environment (set by config/load.py), for `show`.
SECRETS: ContextVar[Mapping[str, str] | None] = ContextVar("SECRETS", default=None)


def conceal_text(text: str, secrets: Mapping[str, str], *, whole: bool = False) -> str:
    """`text` with every value that came from the environment shown as the reference that brought it
    (`htp://bob:${PASS}@host`), as written and as JSON escapes it. `whole`: `text` is one shown value,
    where a value shorter than SHORTEST_HIDDEN is masked too."""
    text = hide(text, secrets)
    for value, ref in secrets.items() if whole else ():
        if len(value) < SHORTEST_HIDDEN and text.strip('"') in (value, orjson.dumps(value).decode()[1:-1]):
            return text.replace(text.strip('"'), ref)
    return text


def conceal(problem: Problem, secrets: Mapping[str, str]) -> Problem:
    """`problem` with the values that came from the environment masked (see `conceal_text`), so that
    `webmcp validate` and a failed start or reload never print an expanded secret."""
    if not secrets:
        return problem
    got = None if problem.got is None else conceal_text(problem.got, secrets, whole=True)
    hint = None if problem.hint is None else conceal_text(problem.hint, secrets)
    return replace(problem, message=conceal_text(problem.message, secrets), got=got, hint=hint)


def _containing(scalars: list[_Scalar], starts: list[int], index: int) -> _Scalar | None:
    i = bisect.bisect_right(starts, index) - 1
    if i >= 0 and scalars[i].start <= index < max(scalars[i].end, scalars[i].start + 1):
        return scalars[i]
    return None


def _fit(value: str, scalar: _Scalar | None, ref: str, source: str, line: int, col: int,
         problems: list[Problem]) -> str:
    """The value escaped for the scalar it lands in, or a problem when it cannot land there as is."""
    style = scalar.style if scalar else None
    if style == '"':
        return value.replace("\\", "\\\\").replace('"', '\\"')
    if style == "'":
        return value.replace("'", "''")
    if style is None and scalar is not None and value:
        unsafe = _UNSAFE_PLAIN.search(value) or (scalar.in_flow and _UNSAFE_IN_FLOW.search(value))
        if unsafe:
            problems.append(Problem(source, line, col, "", f"the value of ${{{ref}}} would change the YAML structure "
                                    f"here (it has {unsafe.group(0).strip() or 'white space'!r})", None,
                                    f'quote the reference: "${{{ref}}}"'))
            return ""
    return value


def _resolve(body: str, env: Mapping[str, str], source: str, line: int, col: int, problems: list[Problem]) -> str:
    m = _BODY.match(body)
    if m is None:
        problems.append(
            Problem(source, line, col, "", "bad variable reference", f'"${{{body}}}"',
                    "use ${NAME}, ${NAME:-default} or ${NAME:?message}; write $${ for a literal ${")
        )
        return ""
    name, dash_op, default, q_op, message = m.groups()
    value = env.get(name)
    unset = value is None
    empty = unset or value == ""
    if dash_op is not None:
        if (dash_op == ":-" and empty) or (dash_op == "-" and unset):
            value = default
    elif q_op is not None:
        if (q_op == ":?" and empty) or (q_op == "?" and unset):
            problems.append(Problem(source, line, col, "", message or f"variable {name} is required", f"${{{body}}}"))
            return ""
    elif unset:
        problems.append(
            Problem(source, line, col, "", f"environment variable {name} is not set", f"${{{name}}}",
                    f"export {name}=..., or give a default: ${{{name}:-value}}")
        )
        return ""
    assert value is not None
    if "\n" in value or "\r" in value:
        problems.append(Problem(source, line, col, "", f"value of {name} contains a newline, which cannot be expanded "
                                "into one YAML line", None, "put it in a file and reference the file instead"))
        return ""
    return value
