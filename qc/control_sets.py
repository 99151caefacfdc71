"""Which projects draw control tasks from a gold set, and how their control tasks compare with
their real tasks — questions about projects that the gold pages of qc must answer, although qc
sits below ``assignments`` and never imports it (docs/architecture.md, layering).

The app that owns projects answers them: it registers an ``Inspector`` at start-up
(``assignments.apps.AssignmentsConfig.ready``). The gold import (API and admin) calls
``control_recheck`` after writing, and the gold set admin page calls ``control_uses``; with no
inspector registered both answer ``[]``. Nothing here runs unless called: no signal, no hidden
flow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from workforce.models import User

# The warning codes a ``ControlUse`` may carry.
SHOWS_ANSWERS = "control_set_shows_answers"  # a quiz that shows answers draws from the set too
SHAPES_DIFFER = "control_tasks_differ"  # control payloads differ from the real tasks'


@dataclass(frozen=True)
class ControlUse:
    """A project whose control gold set this is, with its control check as last stored:
    ``ok`` (no difference, or an override accepts them), ``summary`` (one line) and ``check``
    (the report, for the API), and ``warnings`` (``{"code", "message"}``)."""

    project_id: int
    project_slug: str
    project_name: str
    admin_url: str
    ok: bool
    summary: str
    check: dict[str, Any] | None = None
    warnings: list[dict[str, str]] = field(default_factory=list)


class Inspector(Protocol):
    def uses(self, *, gold_set_id: int) -> list[ControlUse]:
        """The projects using the gold set as their control set, as last checked."""

    def recheck(self, *, actor: User | None, gold_set_id: int) -> list[ControlUse]:
        """Check each of them again (after gold items changed) and store the results."""


_inspector: Inspector | None = None


def register(inspector: Inspector) -> None:
    global _inspector
    _inspector = inspector


def control_uses(*, gold_set_id: int) -> list[ControlUse]:
    return _inspector.uses(gold_set_id=gold_set_id) if _inspector is not None else []


def control_recheck(*, actor: User | None, gold_set_id: int) -> list[ControlUse]:
    if _inspector is None:
        return []
    return _inspector.recheck(actor=actor, gold_set_id=gold_set_id)
