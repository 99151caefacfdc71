"""The landing page of the operations admin: the admin index (config/templates/admin/index.html)
shows, above the list of every model, what needs attention today.

The template tag ``{% operations_landing %}`` (``operations.templatetags.operations_landing``)
calls ``landing_context``, which reads the panels the user may see
(``operations.selectors.landing_for``) and turns them into rows for
``operations/landing.html``: each figure a ``Figure`` linked to the admin changelist that lists
the same rows (its filter in the query string: field lookups the changelist accepts, or its
list filters' own parameters), charts as inline SVG (``qc.charts``, ``operations.charts``).

A figure is linked only when the model behind the list is registered in the admin and the user
may view it (``operations.permissions.may_view``); otherwise it is shown as a plain number.
Nothing here queries the database: the selectors did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils.formats import date_format
from django.utils.html import escape, format_html, format_html_join
from django.utils.http import urlencode
from django.utils.timesince import timesince

from assignments.models import Review, Task
from operations import charts as op_charts
from operations.permissions import Panel, may_view
from operations.selectors import (
    AGE_BUCKETS,
    EXPIRY_DAYS,
    FIRING_DAYS,
    SPARK_DAYS,
    STOPPING_ACTIONS,
    Cutoffs,
    Landing,
    ProjectRow,
    landing_for,
)
from qc import charts
from qc.charts import DASH, percent
from qc.models import GoldItem, QualityRule, RuleFiring
from workforce.models import Labeler, User

BACKLOG_STATUSES = "open,leased"
DONE_STATES = f"{Task.State.COMPLETE},{Task.State.RESOLVED}"


@dataclass(frozen=True)
class Figure:
    """A number on the page, linked to the list behind it when there is one."""

    value: int
    url: str | None = None
    title: str = ""

    def __html__(self) -> str:
        if self.url is None:
            return format_html('<span class="lf-n">{}</span>', self.value)
        return format_html(
            '<a class="lf-n" href="{}" title="{}">{}</a>', self.url, self.title, self.value
        )

    def __str__(self) -> str:
        return self.__html__()


def _when(value: datetime) -> str:
    return value.isoformat()


class Links:
    """Admin URLs for one user: ``None`` where the model has no admin or the user may not view
    it, so a number is never linked to a page that refuses or ignores it."""

    def __init__(self, user: User):
        self.user = user

    def _url(self, model: str, view: str, *args: Any) -> str | None:
        if not may_view(self.user, model):
            return None
        app_label, model_name = model.split(".")
        try:
            return reverse(f"admin:{app_label}_{model_name}_{view}", args=args)
        except NoReverseMatch:
            return None

    def changelist(self, model: str, **params: Any) -> str | None:
        url = self._url(model, "changelist")
        if url is None:
            return None
        query = urlencode(
            {k: _when(v) if isinstance(v, datetime) else v for k, v in params.items()}
        )
        return f"{url}?{query}" if query else url

    def change(self, model: str, pk: int) -> str | None:
        return self._url(model, "change", pk)

    def figure(self, value: int, model: str, title: str = "", **params: Any) -> Figure:
        return Figure(value, self.changelist(model, **params), title)


# -- text ---------------------------------------------------------------------------------------


def person(labeler: Labeler) -> str:
    """ "Ana Silva (LB-7K2Q)": the login's full name (else username) beside the public code."""
    user = labeler.user
    return f"{user.get_full_name() or user.username} ({labeler.public_code})"


def eta_text(row: ProjectRow, now: datetime) -> str:
    if row.remaining == 0:
        return "finished" if row.total else "no tasks yet"
    days = row.days_left
    if days is None:
        return "no progress in 24 h"
    finish = now + timedelta(days=days)
    when = date_format(finish, "D j M")
    if days < 1:
        return f"≈ {max(1, round(days * 24))} h ({when})"
    return f"≈ {days:.1f} days ({when})"


def interval_text(inputs: dict[str, Any] | None) -> str:
    """A firing's figures, e.g. "12/20 = 60.0%, 95% CI 38.7%-78.1%; upper below 0.800" (the
    range with an en dash)."""
    i = inputs or {}
    try:
        head = f"{i['successes']}/{i['n']} = {percent(i['rate'])}"
        if i.get("lower") is None or i.get("upper") is None:
            return head
        return (
            f"{head}, 95% CI {percent(i['lower'])}{DASH}{percent(i['upper'])}; "
            f"{i['bound']} {i['comparison']} {i['threshold']}"
        )
    except (KeyError, TypeError, ValueError):
        return "—"


def breakable(name: str) -> str:
    """A dotted name ("assignments.tasks.consensus_sweep") that may wrap after each dot."""
    *head, last = name.split(".")
    return format_html_join("", "{}.<wbr>", ((part,) for part in head)) + escape(last)


def age_text(since: datetime | None, now: datetime) -> str:
    return "—" if since is None else timesince(since, now, depth=1)


# -- panels -------------------------------------------------------------------------------------


def _progress(page: Landing, links: Links) -> dict[str, Any]:
    cut = page.cut
    rows = []
    for p in page.progress or []:
        project = {"project__id__exact": p.id}
        real = {**project, "kind": "real"}
        rows.append(
            {
                "name": p.name,
                "url": links.change("assignments.project", p.id),
                "total": links.figure(p.total, "assignments.task", "real tasks", **real),
                "open": links.figure(
                    p.open, "assignments.task", "tasks wanting labels", is_open__exact=1, **project
                ),
                "leased": links.figure(
                    p.leased,
                    "assignments.assignment",
                    "live leases on real tasks",
                    status__exact="leased",
                    is_control__exact=0,
                    expires_at__gt=cut.now,
                    **project,
                ),
                "done": links.figure(
                    p.done, "assignments.task", "tasks done", state__in=DONE_STATES, **real
                ),
                "review": links.figure(
                    p.review, "assignments.task", "tasks in review", state__exact="review", **real
                ),
                "done_24h": links.figure(
                    p.done_24h,
                    "assignments.task",
                    "tasks decided in the last 24 h",
                    state__in=DONE_STATES,
                    decided_at__gte=cut.day_ago,
                    **real,
                ),
                "eta": eta_text(p, cut.now),
                "stalled": p.remaining > 0 and not p.done_24h,
                "spark": op_charts.sparkline(
                    p.daily, title=f"{p.name}: tasks done per day, last {SPARK_DAYS} days"
                ),
            }
        )
    daily_total = [sum(col) for col in zip(*(p.daily for p in page.progress or []), strict=True)]
    days = cut.spark_days
    chart = charts.bar_chart(
        [
            (date_format(d, "j M"), n)
            for d, n in zip(days, daily_total or [0] * len(days), strict=True)
        ],
        title=f"Tasks done per day, active projects, last {SPARK_DAYS} days (UTC)",
        width=660,
        height=170,
        value_name="tasks done",
    )
    return {
        "rows": rows,
        "chart": chart,
        "projects_url": links.changelist("assignments.project", status__exact="active"),
    }


def _backlog(page: Landing, links: Links) -> dict[str, Any]:
    cut, backlog = page.cut, page.backlog
    review = "assignments.review"
    rows = []
    for r in backlog.rows:
        kind = {"kind__exact": r.kind, "status__in": BACKLOG_STATUSES}
        rows.append(
            {
                "label": r.label,
                "total": links.figure(r.total, review, f"{r.label}: open or leased", **kind),
                "open": links.figure(
                    r.open, review, "open", kind__exact=r.kind, status__exact="open"
                ),
                "leased": links.figure(
                    r.leased, review, "leased", kind__exact=r.kind, status__exact="leased"
                ),
                "older_24h": links.figure(
                    r.older_24h, review, "older than 24 h", created_at__lt=cut.day_ago, **kind
                ),
                "older_72h": links.figure(
                    r.older_72h,
                    review,
                    "older than 72 h",
                    created_at__lt=cut.three_days_ago,
                    **kind,
                ),
                "for_ops": links.figure(
                    r.for_ops, review, "only ops answer these", for_ops__exact=1, **kind
                )
                if r.kind == Review.Kind.FLAG
                else None,
                "oldest": age_text(r.oldest, cut.now),
                "late": r.older_72h > 0,
            }
        )
    total = links.figure(
        backlog.total, review, "every review open or leased", status__in=BACKLOG_STATUSES
    )
    chart = charts.bar_chart(
        backlog.by_age,
        title="Review backlog by age",
        width=420,
        height=170,
        value_name="reviews",
    )
    return {"rows": rows, "total": total, "chart": chart, "buckets": [b for _, b in AGE_BUCKETS]}


def _stops(page: Landing, links: Links) -> dict[str, Any]:
    cut, stops = page.cut, page.stops
    model = "qc.rulefiring"
    since = {"action__in": ",".join(STOPPING_ACTIONS), "fired_at__gte": cut.week_ago}
    rows = [
        {
            "fired_at": f.fired_at,
            "person": person(f.labeler),
            "labeler_url": links.change("workforce.labeler", f.labeler_id),
            "project": f.project_name or f"project {f.project_id}",
            "project_url": links.change("assignments.project", f.project_id)
            if f.project_name
            else None,
            "rule": f.rule.name,
            "rule_url": links.change("qc.qualityrule", f.rule_id),
            "action": "suspended"
            if f.action == QualityRule.Action.SUSPEND
            else "paused on project",
            "interval": interval_text(f.inputs),
            "status": f.get_status_display(),
            "url": links.change(model, f.pk),
        }
        for f in stops.listed.rows
    ]
    return {
        "rows": rows,
        "more": stops.listed.more,
        "total": links.figure(stops.listed.total, model, f"last {FIRING_DAYS} days", **since),
        **{
            name: links.figure(
                getattr(stops, name), model, name, action__exact=action, fired_at__gte=cut.week_ago
            )
            for name, action in (
                ("paused", QualityRule.Action.PAUSE_ON_PROJECT),
                ("suspended", QualityRule.Action.SUSPEND),
            )
        },
        "still_open": links.figure(
            stops.still_open, model, "still in force", status__exact=RuleFiring.Status.OPEN, **since
        ),
    }


def _gold(page: Landing, links: Links) -> dict[str, Any]:
    gold = page.gold
    model = "qc.golditem"
    rows = [
        {
            "external_id": item.external_id,
            "url": links.change(model, item.pk),
            "gold_set": item.gold_set.name,
            "status": item.get_status_display(),
            "quarantined": item.status == GoldItem.Status.QUARANTINED,
            "contests": item.contests_open or 0,
        }
        for item in gold.listed.rows
    ]
    return {
        "rows": rows,
        "more": gold.listed.more,
        "quarantined": links.figure(
            gold.quarantined, model, "quarantined items", status__exact=GoldItem.Status.QUARANTINED
        ),
        "contested": links.figure(
            gold.contested, model, "items with open contests", health="contested"
        ),
        "open_contests": Figure(gold.open_contests),
        "flagged_url": links.changelist(model, health="flagged"),
    }


def _drift(page: Landing, links: Links) -> dict[str, Any]:
    model = "assignments.driftevent"
    rows = [
        {
            "project": e.project.name,
            "project_url": links.change("assignments.project", e.project_id),
            "batch": f"#{e.batch_id} {e.batch.source}".strip(),
            "batch_url": links.change("assignments.batch", e.batch_id),
            "p_value": f"{e.p_value:.2g}",
            "statistic": f"χ² = {e.statistic:.1f}, dof {e.dof}, n = {e.n}",
            "action": e.action or "—",
            "detected_at": e.detected_at,
            "url": links.change(model, e.pk),
        }
        for e in page.drift.rows
    ]
    return {
        "rows": rows,
        "more": page.drift.more,
        "total": links.figure(
            page.drift.total, model, "not acknowledged", acknowledged_at__isnull="True"
        ),
    }


def _expiring(page: Landing, links: Links) -> dict[str, Any]:
    cut = page.cut
    model = "workforce.qualification"
    rows = [
        {
            "person": person(q.labeler),
            "labeler_url": links.change("workforce.labeler", q.labeler_id),
            "type": q.qualification_type.name,
            "expires_at": q.expires_at,
            "in": timesince(cut.now, q.expires_at, depth=1),
            "url": links.change(model, q.pk),
        }
        for q in page.expiring.rows
    ]
    return {
        "rows": rows,
        "more": page.expiring.more,
        "total": links.figure(
            page.expiring.total,
            model,
            f"valid, expiring within {EXPIRY_DAYS} days",
            state="valid",
            expires_at__lt=cut.expiry_horizon,
        ),
    }


def _failed(page: Landing, links: Links) -> dict[str, Any]:
    model = "health.failedtask"
    rows = [
        {
            "task_name": g.task_name,
            "task_name_html": breakable(g.task_name),
            "n": links.figure(
                g.n, model, "not retried", retried_at__isnull="True", task_name__exact=g.task_name
            ),
            "last": g.last_failed_at,
            "first": g.first_failed_at,
        }
        for g in page.failed.groups.rows
    ]
    return {
        "rows": rows,
        "more": page.failed.groups.more,
        "total": links.figure(
            page.failed.failures, model, "not retried", retried_at__isnull="True"
        ),
    }


BUILDERS = {
    Panel.PROGRESS: _progress,
    Panel.BACKLOG: _backlog,
    Panel.STOPS: _stops,
    Panel.GOLD: _gold,
    Panel.DRIFT: _drift,
    Panel.EXPIRING: _expiring,
    Panel.FAILED: _failed,
}


def landing_context(*, user: User, now: datetime | None = None) -> dict[str, Any]:
    """The template context of ``operations/landing.html`` for ``user``: one entry per panel
    the user may see (``None`` for the others), the moment it was counted at, and the windows."""
    page = landing_for(actor=user, now=now)
    links = Links(user)
    context: dict[str, Any] = {
        "now": page.cut.now,
        "firing_days": FIRING_DAYS,
        "expiry_days": EXPIRY_DAYS,
        "spark_days": SPARK_DAYS,
        "any_panel": bool(page.panels),
    }
    for panel, build in BUILDERS.items():
        context[panel.value] = build(page, links) if panel in page.panels else None
    return context


__all__ = ["Cutoffs", "Figure", "Links", "landing_context"]
