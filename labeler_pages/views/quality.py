"""The labeler pages: the labeler's own quality (routes listed in ``urlpatterns``).

* ``quality/`` (``quality``) — their scorecard as they see it in the API (``/me/scorecard/``):
  facts recorded before the start of the day only (``qc.selectors.quality_facts.start_of_day``),
  so a figure never moves right after a submit and a control task stays indistinguishable. Gold
  accuracy per window and per class and agreement, each with its Wilson 95% interval, the same
  per project; then their graded control answers (``gold_check_list_for_labeler``, the API's
  ``me/gold-checks/``), newest first, 20 a page (``?page=``), each with the verdict, their
  answer and — their answer being locked — the accepted answers and the explanation, and a form
  to contest the verdict. At most ten queries.
* ``quality/checks/<id>/contest/`` (``quality-contest``, POST ``note``) — the API's contest
  endpoint's service, ``qc.services.gold_health.gold_check_contest``: once per check, with a
  note; someone else's check (or one not shown yet) is a 404; a second contest says so.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from assignments.selectors.quality_pages import labeler_project_scores
from config.errors import Conflict, NotFound
from labeler_pages.access import labeler_page
from qc.models import GoldCheck
from qc.selectors import quality_facts
from qc.selectors.gold_health import gold_check_get_for_labeler, gold_check_list_for_labeler
from qc.services.gold_health import MAX_CONTEST_NOTE_CHARS, gold_check_contest

PER_PAGE = 20
MAX_PAGE = 10_000

WINDOW_NAMES = {
    "last_7_days": gettext_lazy("Last 7 days"),
    "last_30_days": gettext_lazy("Last 30 days"),
    "all_time": gettext_lazy("All time"),
}


def _percent(value: float) -> str:
    return str(round(value * 100))


def scorecard_figure(figure: dict[str, Any]) -> dict[str, Any]:
    """A rate of the scorecard (``{n, correct|agreeing, rate, low, high}``) as the pages show
    it: ``text`` is the rate and its Wilson 95% interval ("82% (74 to 88%)", printed with an
    en dash) and ``n`` the count it rests on; ``text`` is empty when there is nothing to count
    yet."""
    if not figure["n"] or figure["rate"] is None:
        return {"text": "", "n": 0}
    text = _("%(rate)s%% (%(low)s–%(high)s%%)") % {  # noqa: RUF001 (an en dash, as printed)
        "rate": _percent(figure["rate"]),
        "low": _percent(figure["low"]),
        "high": _percent(figure["high"]),
    }
    return {"text": text, "n": figure["n"]}


def answer_text(answer: Any) -> str:
    """An answer as a sentence: a label, labels, or boxes with their label and geometry."""
    if answer is None or answer == "" or answer == []:
        return _("(nothing)")
    if isinstance(answer, str):
        return answer
    if isinstance(answer, list) and all(isinstance(a, str) for a in answer):
        return ", ".join(answer)
    if isinstance(answer, list) and all(isinstance(a, dict) for a in answer):
        boxes = [
            _("%(label)s at (%(x)s, %(y)s), %(w)s × %(h)s")  # noqa: RUF001 (times sign)
            % {
                k: _number(box.get(k)) if k != "label" else box.get(k, "?")
                for k in ["label", "x", "y", "w", "h"]
            }
            for box in answer
        ]
        count = ngettext("%(n)s box", "%(n)s boxes", len(answer)) % {"n": len(answer)}
        return f"{count}: " + "; ".join(boxes)
    return json.dumps(answer, ensure_ascii=False)


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class ContestForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Why do you think this verdict is wrong?"),
        max_length=MAX_CONTEST_NOTE_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": gettext_lazy("Say why you think the verdict is wrong.")},
    )


def _page_number(raw: str | None) -> int:
    try:
        page = int(raw or 1)
    except ValueError:
        return 1
    return min(max(page, 1), MAX_PAGE)


def _check_row(check: GoldCheck, *, names: dict[int, str], form: ContestForm | None) -> dict:
    item = check.gold_item
    payload = item.payload if isinstance(item.payload, dict) else {}
    return {
        "check": check,
        "project": names.get(check.project_id, ""),
        "image_url": payload.get("image_url", ""),
        "text": payload.get("text", ""),
        "answer": answer_text(check.answer),
        "accepted": [answer_text(a) for a in item.accepted_answers or []],
        "explanation": item.explanation,
        "form": form or ContestForm(prefix=f"check-{check.pk}"),
    }


def _render(request, *, page: int, failed: tuple[int, ContestForm] | None = None, status=200):
    labeler = request.labeler
    now = timezone.now()
    as_of = quality_facts.start_of_day(now, labeler.timezone)
    scope = {"labeler_id": labeler.pk, "now": now, "before": as_of}
    gold = quality_facts.gold_accuracy(**scope)
    agreement = quality_facts.agreement(**scope)
    by_class = quality_facts.gold_by_class(**scope)
    projects = labeler_project_scores(labeler=labeler, now=now)
    names = {row["project_id"]: row["project"] for row in projects}

    offset = (page - 1) * PER_PAGE
    checks = list(
        gold_check_list_for_labeler(labeler=labeler, now=now)[offset : offset + PER_PAGE + 1]
    )
    has_next = len(checks) > PER_PAGE
    rows = [
        _check_row(c, names=names, form=failed[1] if failed and failed[0] == c.pk else None)
        for c in checks[:PER_PAGE]
    ]
    windows = [
        {
            "name": WINDOW_NAMES[key],
            "gold": scorecard_figure(gold["windows"][key]),
            "pairwise": scorecard_figure(agreement["pairwise"][key]),
            "with_final": scorecard_figure(agreement["with_final"][key]),
        }
        for key, _days in quality_facts.WINDOWS
    ]
    return render(
        request,
        "labeler/quality/quality.html",
        {
            "labeler": labeler,
            "nav": "quality",
            "as_of_date": as_of.date(),
            "windows": windows,
            "contested": gold["contested"],
            "per_class": [
                {"class_name": row["class_name"], "figure": scorecard_figure(row)}
                for row in by_class["per_class"]
            ],
            "projects": [
                {
                    "name": row["project"],
                    "gold_30": scorecard_figure(row["gold_last_30_days"]),
                    "gold_all": scorecard_figure(row["gold_all_time"]),
                    "pairwise": scorecard_figure(row["pairwise"]),
                    "with_final": scorecard_figure(row["with_final"]),
                }
                for row in projects
            ],
            "rows": rows,
            "page": page,
            "has_next": has_next,
            "has_previous": page > 1,
            "Contest": GoldCheck.Contest,
        },
        status=status,
    )


@require_GET
@labeler_page
def quality(request):
    return _render(request, page=_page_number(request.GET.get("page")))


@require_POST
@labeler_page
def quality_contest(request, pk: int):
    """Contest one of the labeler's own checks: the service of the API's contest endpoint."""
    labeler = request.labeler
    page = _page_number(request.POST.get("page"))
    try:
        gold_check_get_for_labeler(labeler=labeler, pk=pk)  # anyone else's: 404
    except NotFound:
        raise Http404 from None
    form = ContestForm(request.POST, prefix=f"check-{pk}")
    back = reverse("labeler:quality") + (f"?page={page}" if page > 1 else "") + f"#check-{pk}"
    if form.is_valid():
        try:
            gold_check_contest(labeler=labeler, check_id=pk, note=form.cleaned_data["note"])
        except Conflict:
            messages.error(
                request, _("You already contested this verdict; it cannot be contested twice.")
            )
            return redirect(back)
        except NotFound:
            raise Http404 from None
        except ValidationError as error:
            for message in error.message_dict.get("note", error.messages):
                form.add_error("note", message)
        else:
            messages.success(
                request, _("Your contest is recorded. Operations will review the verdict.")
            )
            return redirect(back)
    return _render(request, page=page, failed=(pk, form), status=400)


urlpatterns = [
    path("quality/", quality, name="quality"),
    path("quality/checks/<id:pk>/contest/", quality_contest, name="quality-contest"),
]
