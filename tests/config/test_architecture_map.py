"""The "Where each feature lives" table of docs/architecture.md stays true: every path in it
exists, and every ``path:Name`` names a class, function or assignment of that file (``Name`` may
be ``Class.attribute``). A move or a rename that forgets the table fails here with the path."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
HEADING = "## Where each feature lives"
COLUMNS = [
    "feature",
    "model",
    "service",
    "selector",
    "API view",
    "admin",
    "Celery task",
    "doc page",
    "tests",
]
NONE = "—"
# A reference: a relative path of the repository, optionally ``:Name`` or ``:Class.name``.
REFERENCE = re.compile(r"^(?P<path>[\w./-]+\.(?:py|md|html))(?::(?P<name>\w+(?:\.\w+)?))?$")
CODE = re.compile(r"`([^`]*)`")


def table_rows(text: str) -> list[list[str]]:
    """The cells of the section's table, header first; [] if the section or table is missing."""
    _, found, section = text.partition(HEADING + "\n")
    if not found:
        return []
    section = section.split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines]


def references(cell: str) -> list[str]:
    """The code spans of a cell, which must be all it holds (besides commas), or "—"."""
    if cell == NONE:
        return []
    spans = CODE.findall(cell)
    rest = CODE.sub("", cell).replace(",", "").strip()
    assert spans and not rest, f"a cell holds paths in backticks or {NONE}, not {cell!r}"
    return spans


def _defined(body: list[ast.stmt]) -> dict[str, ast.stmt]:
    """The names a block of statements defines (classes, functions, assignments)."""
    names: dict[str, ast.stmt] = {}
    for node in body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names[node.name] = node
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update((t.id, node) for t in targets if isinstance(t, ast.Name))
    return names


@cache
def defined_names(path: Path) -> dict[str, set[str]]:
    """A module's top-level names -> the names a class among them defines in its body."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        name: set(_defined(node.body)) if isinstance(node, ast.ClassDef) else set()
        for name, node in _defined(tree.body).items()
    }


def missing(reference: str) -> str | None:
    """Why a reference is wrong, or None when it holds."""
    match = REFERENCE.match(reference)
    if match is None:
        return f"{reference!r} is not a path or path:Name"
    path = ROOT / match["path"]
    if not path.is_file():
        return f"{match['path']} does not exist"
    name = match["name"]
    if name is None:
        return None
    if path.suffix != ".py":
        return f"{reference}: only a Python file can name a definition"
    owner, _, attribute = name.partition(".")
    names = defined_names(path)
    if owner not in names:
        return f"{match['path']} defines no {owner}"
    if attribute and attribute not in names[owner]:
        return f"{match['path']}: {owner} defines no {attribute}"
    return None


ROWS = table_rows(DOC.read_text(encoding="utf-8"))


def test_the_table_is_there_with_its_columns():
    assert ROWS, f"docs/architecture.md has no table under {HEADING!r}"
    header, rule, *rows = ROWS
    assert header == COLUMNS
    assert all(set(cell) <= set("-: ") for cell in rule)
    assert len(rows) >= 20
    for row in rows:
        assert len(row) == len(COLUMNS), f"row {row[0]!r} has {len(row)} cells"


@pytest.mark.parametrize("row", ROWS[2:], ids=lambda row: row[0])
def test_every_path_of_a_feature_exists(row):
    feature, *cells = row
    problems = [
        f"{column}: {problem}"
        for column, cell in zip(COLUMNS[1:], cells, strict=True)
        for reference in references(cell)
        if (problem := missing(reference))
    ]
    assert not problems, f"{feature}: " + "; ".join(problems)


def test_a_wrong_path_or_name_is_reported():
    """The checker itself: a missing file, a missing name and a bad attribute are all caught."""
    assert missing("qc/no_such_module.py") == "qc/no_such_module.py does not exist"
    assert missing("qc/stats.py:no_such_name") == "qc/stats.py defines no no_such_name"
    assert missing("qc/stats.py:Interval.no_such") == "qc/stats.py: Interval defines no no_such"
    assert missing("qc/stats.py:wilson") is None
    assert missing("qc/stats.py:Interval.rate") is None
    assert missing("docs/quality.md") is None
    assert missing("wilson") == "'wilson' is not a path or path:Name"
