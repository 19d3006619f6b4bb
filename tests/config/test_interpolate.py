"""`${VAR}` expansion: the forms, comments, every missing variable at once, and column mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from webmcp.config.interpolate import expand
from webmcp.config.load import load
from webmcp.errors import ConfigError


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary current folder, so error lines start with the relative name `webmcp.yaml`."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def load_errors(folder: Path, text: str, env: dict[str, str]) -> list[str]:
    (folder / "webmcp.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load("webmcp.yaml", env=env)
    return [p.render() for p in info.value.problems]


@pytest.mark.parametrize(
    ("text", "env", "expanded"),
    [
        pytest.param("a: ${A}", {"A": "x"}, "a: x", id="set"),
        pytest.param("a: ${A}", {"A": ""}, "a: ", id="set-empty"),
        pytest.param("a: ${A}-${B}", {"A": "x", "B": "y"}, "a: x-y", id="two-on-one-line"),
        pytest.param("a: ${A:-dflt}", {}, "a: dflt", id="colon-dash-unset"),
        pytest.param("a: ${A:-dflt}", {"A": ""}, "a: dflt", id="colon-dash-empty"),
        pytest.param("a: ${A:-dflt}", {"A": "x"}, "a: x", id="colon-dash-set"),
        pytest.param("a: ${A:-}", {}, "a: ", id="colon-dash-empty-default"),
        pytest.param("a: ${A:-http://h:80/p}", {}, "a: http://h:80/p", id="default-with-colons"),
        pytest.param("a: ${A-dflt}", {}, "a: dflt", id="dash-unset"),
        pytest.param("a: ${A-dflt}", {"A": ""}, "a: ", id="dash-empty-kept"),
        pytest.param("a: ${A-dflt}", {"A": "x"}, "a: x", id="dash-set"),
        pytest.param("a: ${A:?need A}", {"A": "x"}, "a: x", id="colon-question-set"),
        pytest.param("a: ${A?need A}", {"A": ""}, "a: ", id="question-empty-allowed"),
        pytest.param("a: $${A}", {"A": "x"}, "a: ${A}", id="double-dollar-literal"),
        pytest.param("a: $${A:-x}", {}, "a: ${A:-x}", id="double-dollar-literal-with-default"),
        pytest.param("a: $A", {"A": "x"}, "a: $A", id="bare-dollar-untouched"),
        pytest.param("a: 1 # ${UNSET}", {}, "a: 1 # ${UNSET}", id="trailing-comment"),
        pytest.param("# ${UNSET}", {}, "# ${UNSET}", id="comment-line"),
        pytest.param("  # ${UNSET}", {}, "  # ${UNSET}", id="indented-comment-line"),
        pytest.param("a: '# ${A}'", {"A": "x"}, "a: '# x'", id="hash-inside-single-quotes"),
        pytest.param('a: "x # ${A}"', {"A": "y"}, 'a: "x # y"', id="hash-inside-double-quotes"),
        pytest.param("a: b#${A}", {"A": "x"}, "a: b#x", id="hash-without-space-is-not-a-comment"),
        pytest.param("a: ${A}\nb: ${B}", {"A": "1", "B": "2"}, "a: 1\nb: 2", id="lines-kept"),
    ],
)
def test_expand_forms(text: str, env: dict[str, str], expanded: str) -> None:
    """Each reference form expands as documented; comments and `$${` are left alone."""
    out, _, problems = expand(text, env, "f.yaml")
    assert problems == []
    assert out == expanded


@pytest.mark.parametrize(
    ("text", "env", "errors"),
    [
        pytest.param(
            "a: ${A}",
            {},
            ["f.yaml:1:4: environment variable A is not set (got ${A}); export A=..., or give a default: ${A:-value}"],
            id="unset",
        ),
        pytest.param("a: ${A:?give A}", {}, ["f.yaml:1:4: give A (got ${A:?give A})"], id="colon-question-unset"),
        pytest.param(
            "a: ${A:?give A}", {"A": ""}, ["f.yaml:1:4: give A (got ${A:?give A})"], id="colon-question-empty"
        ),
        pytest.param("a: ${A?give A}", {}, ["f.yaml:1:4: give A (got ${A?give A})"], id="question-unset"),
        pytest.param("a: ${A:?}", {}, ["f.yaml:1:4: variable A is required (got ${A:?})"], id="default-message"),
        pytest.param(
            "a: ${1A}",
            {},
            [
                'f.yaml:1:4: bad variable reference (got "${1A}"); use ${NAME}, ${NAME:-default} or ${NAME:?message};'
                " write $${ for a literal ${"
            ],
            id="bad-name",
        ),
        pytest.param(
            "a: ${}",
            {},
            [
                'f.yaml:1:4: bad variable reference (got "${}"); use ${NAME}, ${NAME:-default} or ${NAME:?message};'
                " write $${ for a literal ${"
            ],
            id="empty-reference",
        ),
        pytest.param(
            "a: ${A}",
            {"A": "two\nlines"},
            [
                "f.yaml:1:4: value of A contains a newline, which cannot be expanded into one YAML line;"
                " put it in a file and reference the file instead"
            ],
            id="newline-in-value",
        ),
    ],
)
def test_expand_errors(text: str, env: dict[str, str], errors: list[str]) -> None:
    """A reference that cannot be expanded is a located problem with the reference as written."""
    _, _, problems = expand(text, env, "f.yaml")
    assert [p.render() for p in problems] == errors


@pytest.mark.parametrize(
    ("expanded_column", "original_column"),
    [
        pytest.param(0, 0, id="line-start"),
        pytest.param(3, 3, id="start-of-value"),
        pytest.param(5, 3, id="inside-value-points-at-reference"),
        pytest.param(12, 3, id="last-char-of-value"),
        pytest.param(13, 10, id="right-after-value"),
        pytest.param(14, 11, id="later-on-line"),
    ],
)
def test_column_map(expanded_column: int, original_column: int) -> None:
    """Columns after an expanded value shift back to the text the user wrote; inside it, to its `${`."""
    _, cmap, _ = expand("a: ${LONG} b", {"LONG": "0123456789"}, "f.yaml")
    assert cmap.original(0, expanded_column) == original_column


def test_every_missing_variable_is_reported_at_once(workdir: Path) -> None:
    """All unset variables in a file are reported together, each at its line:col; comments are skipped."""
    text = "version: 1\nserver:\n  name: ${A}\n  instructions: ${B} and ${C:?C is needed}\n  # ${D}\n"
    assert load_errors(workdir, text, {}) == [
        "webmcp.yaml:3:9: environment variable A is not set (got ${A}); export A=..., or give a default: ${A:-value}",
        "webmcp.yaml:4:17: environment variable B is not set (got ${B}); export B=..., or give a default: ${B:-value}",
        "webmcp.yaml:4:26: C is needed (got ${C:?C is needed})",
    ]


@pytest.mark.parametrize(
    ("text", "env", "errors"),
    [
        pytest.param(
            "version: 1\nserver: {name: ${NAME}, page_size: bad}\n",
            {"NAME": "a-rather-long-server-name"},
            ['webmcp.yaml:2:25: server.page_size: must be a whole number (got "bad")'],
            id="schema-error-after-longer-value",
        ),
        pytest.param(
            "version: 1\nserver: {name: ${NAME}, page_size: bad}\n",
            {"NAME": "n"},
            ['webmcp.yaml:2:25: server.page_size: must be a whole number (got "bad")'],
            id="schema-error-after-shorter-value",
        ),
        pytest.param(
            "version: 1\nserver: {name: ${NAME}, page_size: [}\n",
            {"NAME": "a-rather-long-server-name"},
            ["webmcp.yaml:2:37: YAML syntax error: expected the node content, but found '}'"],
            id="syntax-error-after-value",
        ),
        pytest.param(
            "version: 1\ntools:\n  c:\n    kind: command\n    argv: [${PROG}, 5]\n",
            {"PROG": "a-long-program-name"},
            ["webmcp.yaml:5:21: tools.c.argv[1]: must be a string (got 5)"],
            id="list-item-after-value",
        ),
        pytest.param(
            "version: 1\ntools:\n  c:\n    kind: command\n    argv: ${ARGV}\n",
            {"ARGV": "[echo, 5]"},
            [
                "webmcp.yaml:5:11: the value of ${ARGV} would change the YAML structure here (it has '['); "
                'quote the reference: "${ARGV}"'
            ],
            id="structure-from-a-variable-is-refused",
        ),
    ],
)
def test_errors_point_at_the_columns_the_user_wrote(
    workdir: Path, text: str, env: dict[str, str], errors: list[str]
) -> None:
    """Parser and schema errors on a line with an expanded variable use the original text's columns."""
    assert load_errors(workdir, text, env) == errors


def test_expanded_values_reach_the_spec(workdir: Path) -> None:
    """Expanded values, defaults and literals end up in the loaded configuration."""
    (workdir / "webmcp.yaml").write_text(
        'version: 1\nprofile: none\nserver:\n  name: ${NAME}\n  version: "${VER:-1.2}"\n  instructions: cost $${X}\n'
    )
    server = load("webmcp.yaml", env={"NAME": "svc"}).server
    assert (server.name, server.version, server.instructions) == ("svc", "1.2", "cost ${X}")


def test_comment_after_apostrophe_is_not_expanded() -> None:
    """A trailing comment after a plain scalar containing an apostrophe is still a comment."""
    out, _, problems = expand("description: the user's name  # set ${TOKEN} later", {}, "f.yaml")
    assert problems == []
    assert out == "description: the user's name  # set ${TOKEN} later"


def test_reference_after_escaped_quote_is_expanded() -> None:
    """A reference inside a double-quoted string after an escaped quote and ` #` is expanded."""
    out, _, _ = expand('name: "say \\" # ${X}"', {"X": "v"}, "f.yaml")
    assert out == 'name: "say \\" # v"'


def test_reference_in_block_scalar_after_hash_is_expanded() -> None:
    """In a `|` block scalar ` #` is text, not a comment, so a reference after it is expanded."""
    out, _, _ = expand("instructions: |\n  Use # ${X} here\n", {"X": "v"}, "f.yaml")
    assert out == "instructions: |\n  Use # v here\n"


def test_value_with_hash_is_refused_unquoted_and_whole_when_quoted(workdir: Path) -> None:
    """A value with ` #` is refused in a plain scalar (never silently cut) and arrives whole in quotes."""
    (workdir / "webmcp.yaml").write_text("version: 1\nprofile: none\nserver:\n  name: ${NAME}\n")
    with pytest.raises(ConfigError) as info:
        load("webmcp.yaml", env={"NAME": "team #1"})
    assert str(info.value) == (
        "webmcp.yaml:4:9: the value of ${NAME} would change the YAML structure here (it has '#'); "
        'quote the reference: "${NAME}"'
    )
    (workdir / "webmcp.yaml").write_text('version: 1\nprofile: none\nserver:\n  name: "${NAME}"\n')
    assert load("webmcp.yaml", env={"NAME": 'team #1 "A"'}).server.name == 'team #1 "A"'
