"""The tests' own layout: a helper two test modules share lives in a factories module
(tests/factories.py or tests/<app>/factories.py) or a conftest, so no test module imports
another."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent


def _is_test_module(dotted: str) -> bool:
    return dotted.rsplit(".", 1)[-1].startswith("test_")


def imports_of_test_modules(source: str, name: str) -> list[str]:
    """Each import in ``source`` of a test module (``tests.<app>.test_x``, ``from tests.<app>
    import test_x`` or a relative ``from .test_x import``), as ``name:line imports module``."""
    found = []
    for node in ast.walk(ast.parse(source, filename=name)):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level == 0 and not base.startswith("tests"):
                continue
            modules = [base] + [f"{base}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            modules = [a.name for a in node.names if a.name.startswith("tests.")]
        else:
            continue
        found += [f"{name}:{node.lineno} imports {m}" for m in modules if _is_test_module(m)]
    return found


def test_no_test_module_imports_another():
    offenders = [
        line
        for path in sorted(TESTS.rglob("*.py"))
        for line in imports_of_test_modules(path.read_text(), str(path.relative_to(TESTS.parent)))
    ]
    assert offenders == [], "move the shared helper to a factories module:\n" + "\n".join(offenders)


def test_the_check_sees_each_form_of_import():
    # So the test above cannot pass by seeing nothing.
    source = (
        "from tests.assignments.test_claim import make_project\n"
        "from tests.qc import test_rules\n"
        "from .test_api import token_client\n"
        "import tests.qc.test_rules_admin\n"
        "from tests.qc.factories import make_rule\n"
        "from tests import factories\n"
        "from assignments.services import test_mode\n"
    )
    assert [line.split(" imports ")[0] for line in imports_of_test_modules(source, "x")] == [
        "x:1",
        "x:2",
        "x:3",
        "x:4",
    ]
