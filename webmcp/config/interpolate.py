"""`${VAR}` expansion on the raw YAML text, before parsing.

Forms: `${VAR}`, `${VAR:-default}` (default when unset or empty), `${VAR-default}` (when unset),
`${VAR:?message}` / `${VAR?message}` (an error with that message), and `$${...}` for a literal `${...}`.
Comment lines and trailing comments are left alone, so a commented-out `${TOKEN}` never fails a load.

Every missing variable is reported at once. The line structure never changes (a value containing a
newline is refused), and each line keeps a map from expanded columns back to original ones, so
errors found later by the parser or the schema point at the column the user wrote.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from webmcp.errors import Problem

_REF = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_BODY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)(.*)|(:?\?)(.*))?$", re.DOTALL)


@dataclass(slots=True)
class ColumnMap:
    """Maps 0-based columns of expanded lines back to the original text's columns."""

    # per line: list of (expanded_start, original_start, expanded_end, original_end) replaced spans
    spans: dict[int, list[tuple[int, int, int, int]]] = field(default_factory=dict)

    def original(self, line: int, column: int) -> int:
        shift = 0
        for exp_start, orig_start, exp_end, orig_end in self.spans.get(line, ()):
            if column < exp_start:
                break
            if column < exp_end:
                return orig_start  # inside an expanded value: point at its `${`
            shift = orig_end - exp_end
        return column + shift


def _comment_start(line: str) -> int:
    """Index of a YAML comment on this line (outside quotes), or len(line)."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return i
    return len(line)


def expand(text: str, env: Mapping[str, str], source: str) -> tuple[str, ColumnMap, list[Problem]]:
    """Expand references in `text`; returns the new text, the column map and every problem found."""
    problems: list[Problem] = []
    cmap = ColumnMap()
    out_lines: list[str] = []
    for lineno, line in enumerate(text.split("\n")):
        cut = _comment_start(line)
        code, comment = line[:cut], line[cut:]
        pieces: list[str] = []
        spans: list[tuple[int, int, int, int]] = []
        pos = 0
        out_len = 0
        for m in _REF.finditer(code):
            pieces.append(code[pos : m.start()])
            out_len += m.start() - pos
            if m.group(0) == "$${":
                value = "${"
            else:
                value = _resolve(m.group(1), env, source, lineno + 1, m.start() + 1, problems)
            spans.append((out_len, m.start(), out_len + len(value), m.end()))
            pieces.append(value)
            out_len += len(value)
            pos = m.end()
        pieces.append(code[pos:])
        if spans:
            cmap.spans[lineno] = spans
        out_lines.append("".join(pieces) + comment)
    return "\n".join(out_lines), cmap, problems


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
