"""App imports go one way: workforce ← qc ← assignments ← payments ← notifications ← operations ←
labeler_pages. A lower app
never imports a higher one (docs/architecture.md), at module level or inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ORDER = [
    "workforce",
    "qc",
    "assignments",
    "payments",
    "notifications",
    "operations",
    "labeler_pages",
]


def imported_apps(source: str) -> set[str]:
    """The top-level packages ``source`` imports, wherever the import statement stands."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
    return found


def test_no_app_imports_a_higher_one():
    offenders = []
    for rank, app in enumerate(ORDER):
        higher = set(ORDER[rank + 1 :])
        for file in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in file.parts:
                continue
            for name in sorted(imported_apps(file.read_text()) & higher):
                offenders.append(f"{file.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_the_check_sees_imports_inside_functions():
    source = "def f():\n    from payments.models import Ledger\n    import labeler_pages.views\n"
    assert imported_apps(source) == {"payments", "labeler_pages"}
