"""The quality pages of the operations admin, rendered: a labeler's scorecard, a project's
quality page and the vendor comparison (issue 5, docs/quality.md).

They are admin views of ``ProjectAdmin`` (``QualityDashboardsMixin.quality_urls`` is added to
its ``get_urls``): ``assignments`` is the lowest app that sees both the work records and qc's
scores, so the pages live here rather than under the labeler or vendor admin of ``workforce``,
which links to the scorecard by URL name only. URL names (namespace ``admin``):

* ``assignments_quality_scorecard`` — ``project/quality/labelers/<labeler id>/``, with
  ``?project=<id>`` and ``?window=last_7_days|last_30_days|all_time`` (``all_time`` when
  absent; the form's selected options are always the project and window shown);
* ``assignments_project_quality`` — ``project/<project id>/quality/``;
* ``assignments_quality_vendors`` — ``project/quality/vendors/``, with ``?project=<id>``.

Operations managers only (active staff with the model's view permission): anyone else gets the
admin's usual refusal (the login page, or 403 for staff without the permission). The views parse
the filters, call the selectors (``assignments.selectors.quality_pages``,
``qc.selectors.quality_facts``, ``qc.selectors.rules``) and render; the charts are inline SVG
from ``qc.charts``. Every rate is shown with its n and its Wilson 95% interval; each page costs
a constant number of queries, whatever the number of labelers, batches or facts.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe

from assignments.admin_drift import drift_event_rows
from assignments.models import Assignment, Batch, Project
from assignments.selectors import quality_pages
from assignments.selectors.active_time import active_time_row, vendor_active_time
from config.admin import person_label
from qc import charts
from qc.charts import DASH, percent
from qc.selectors import quality_facts
from qc.selectors.rules import public_inputs, rule_firings_for
from workforce.admin import labeler_panel
from workforce.models import Labeler, Vendor
from workforce.selectors import is_ops

TEMPLATES = "admin/assignments/quality/"
WINDOW_CHOICES = (
    ("last_7_days", "Last 7 days"),
    ("last_30_days", "Last 30 days"),
    ("all_time", "All time"),
)
DEFAULT_WINDOW = "all_time"
MAX_FIRINGS = 50  # the scorecard lists the latest rule firings, newest first
THROUGHPUT_DAYS = 30  # the vendor comparison's labels per day are over the last 30 days
METHOD_NAMES = {"one_coin": "one-coin", "full": "full confusion matrices"}


# -- formatting ----------------------------------------------------------------------------------


def rate_text(r: dict[str, Any] | None) -> str:
    """A rate of the selectors (``{n, rate, low, high, …}``) as "80.0% (n = 10, 95% CI
    49.0% to 94.3%)" (with an en dash); "no data (n = 0)" when there are no observations."""
    if not r or not r.get("n") or r.get("rate") is None:
        return "no data (n = 0)"
    return (
        f"{percent(r['rate'])} (n = {r['n']}, 95% CI {percent(r['low'])}{DASH}{percent(r['high'])})"
    )


def estimate_text(e: dict[str, Any] | None) -> str:
    """A Dawid-Skene estimate as "87.0% (one-coin, n = 120 items)". A model estimate: it has
    no Wilson interval, so none is made up."""
    if not e:
        return "not fitted yet"
    method = METHOD_NAMES.get(e["method"], e["method"])
    return f"{percent(e['accuracy'])} ({method}, n = {e['n_items']} items)"


def coefficient_text(value: float | None, n: int, unit: str) -> str:
    if value is None:
        return f"not defined (n = {n} {unit})"
    return f"{value:.3f} (n = {n} {unit})"


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "no timed labels"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {rest % 60:02d} s"


def _svg(markup: str) -> SafeString:
    # qc.charts escapes every piece of text it draws: its output is safe markup.
    return mark_safe(markup)  # noqa: S308


def _confusion_chart(matrix: dict[str, Any], *, title: str, row_name: str) -> SafeString:
    return _svg(
        charts.heatmap(
            matrix["classes"],
            matrix["counts"],
            title=title,
            row_name=row_name,
            column_name="answered",
        )
    )


def _url(name: str, *args: Any, query: dict[str, Any] | None = None) -> str | None:
    try:
        url = reverse(f"admin:{name}", args=args)
    except NoReverseMatch:
        return None
    return f"{url}?{urlencode(query)}" if query else url


# -- filters -------------------------------------------------------------------------------------


class ScorecardFilter(forms.Form):
    project = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    window = forms.ChoiceField(choices=WINDOW_CHOICES, required=False)

    def __init__(self, *args, projects: list[Project], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = [("", "All projects")] + [
            (str(p.pk), p.name) for p in projects
        ]


class VendorFilter(forms.Form):
    project = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)

    def __init__(self, *args, projects: list[Project], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = [("", "All projects")] + [
            (str(p.pk), p.name) for p in projects
        ]


def _cleaned(form: forms.Form, name: str, default: Any = None) -> Any:
    if form.is_bound and form.is_valid():
        return form.cleaned_data.get(name) or default
    return default


def _every_day(daily: list[dict[str, Any]], *, now) -> list[tuple[str, int]]:
    """Every day the selector's daily series covers (``DAILY_DAYS`` back from ``now``, the
    first in part), oldest first, each with its submissions: a day without any is a zero bar,
    so every bar keeps its date (the selector lists only the days with work)."""
    by_day = {d["day"]: d["submissions"] for d in daily}
    today = now.date()  # the selector's days are UTC dates, like ``now``
    days = [today - timedelta(days=k) for k in range(quality_pages.DAILY_DAYS, -1, -1)]
    return [(f"{day:%d %b}", by_day.get(day, 0)) for day in days]


def _vendor_accuracy_chart(by_vendor: dict[int | None, dict[str, Any]]) -> SafeString:
    """Gold accuracy (all time) per vendor as dots with their Wilson 95% intervals, in the
    table's order (vendors by name, then the internal labelers)."""
    rows = []
    for vendor_id, row in sorted(
        by_vendor.items(), key=lambda kv: (kv[0] is None, kv[1]["vendor_name"])
    ):
        r = row["gold_all_time"]
        name = row["vendor_name"] if vendor_id is not None else "Internal labelers"
        point = charts.RatePoint(
            label=name, rate=r["rate"] if r["n"] else None, low=r["low"], high=r["high"], n=r["n"]
        )
        rows.append((name, point))
    return _svg(charts.interval_chart(rows, title="Gold accuracy per vendor, all time"))


# -- a read the selectors do not have yet ------------------------------------------------------


def _vendor_throughput(*, project_id: int | None, now) -> dict[int | None, dict[str, Any]]:
    """Per vendor (None: internal labelers): how many labelers submitted, how many labels (real
    and control) all time and over the last 30 days, and their active seconds. One grouped
    query. TODO(issue 5): belongs in ``assignments.selectors.quality_pages`` beside
    ``labeler_throughput``; kept private here until it moves."""
    # Up to now: a submission stamped later is never counted.
    qs = Assignment.objects.filter(status=Assignment.Status.SUBMITTED, submitted_at__lte=now)
    if project_id is not None:
        qs = qs.filter(project_id=project_id)
    since = now - timedelta(days=THROUGHPUT_DAYS)
    rows = (
        qs.values("labeler__vendor_id", "labeler__vendor__name")
        .annotate(
            labelers=Count("labeler_id", distinct=True),
            labels=Count("pk"),
            recent=Count("pk", filter=Q(submitted_at__gte=since)),
            active_seconds=Coalesce(Sum("active_seconds"), 0),
        )
        .order_by()
    )
    return {
        row["labeler__vendor_id"]: {
            "vendor_name": row["labeler__vendor__name"],
            "labelers": row["labelers"],
            "labels": row["labels"],
            "per_day": row["recent"] / THROUGHPUT_DAYS,
            "active_seconds": row["active_seconds"],
        }
        for row in rows
    }


# -- the views -----------------------------------------------------------------------------------


class QualityDashboardsMixin:
    """Mixed into ``ProjectAdmin``: the three dashboards as admin views, plus the links to them
    (a "quality" column and change-page field, a vendor-comparison button on the changelist)."""

    change_list_template = TEMPLATES + "project_change_list.html"

    def quality_urls(self) -> list:
        """Put these before the ModelAdmin's own URLs (its ``<path:object_id>/`` catches all)."""
        wrap = self.admin_site.admin_view
        return [
            path(
                "quality/labelers/<int:labeler_id>/",
                wrap(self.labeler_scorecard_view),
                name="assignments_quality_scorecard",
            ),
            path(
                "quality/vendors/",
                wrap(self.vendor_comparison_view),
                name="assignments_quality_vendors",
            ),
            path(
                "<int:object_id>/quality/",
                wrap(self.project_quality_view),
                name="assignments_project_quality",
            ),
        ]

    # -- links ---------------------------------------------------------------------------------

    @admin.display(description="quality")
    def quality_link(self, obj: Project) -> str:
        if obj is None or obj.pk is None:
            return "—"
        return format_html(
            '<a href="{}">Quality</a> · <a href="{}">vendors</a>',
            reverse("admin:assignments_project_quality", args=[obj.pk]),
            reverse("admin:assignments_quality_vendors") + f"?project={obj.pk}",
        )

    # -- helpers -------------------------------------------------------------------------------

    def _require_ops(self, request, *perms: str) -> None:
        """Operations managers with the given model permissions; anyone else is refused."""
        if not (is_ops(request.user) and all(request.user.has_perm(p) for p in perms)):
            raise PermissionDenied

    def _render(
        self, request, template: str, context: dict[str, Any], *, under, obj=None, crumb: str
    ) -> TemplateResponse:
        """The page, its breadcrumbs under the list of the model ``under`` (and ``obj``), ending
        in ``crumb``."""
        request.current_app = self.admin_site.name
        crumbs = {"crumbs_opts": under._meta, "crumbs_object": obj, "crumbs_title": crumb}
        return TemplateResponse(
            request,
            TEMPLATES + template,
            {**self.admin_site.each_context(request), "opts": self.opts, **crumbs, **context},
        )

    # -- the labeler scorecard -----------------------------------------------------------------

    def labeler_scorecard_view(self, request, labeler_id: int):
        """One labeler's scorecard, optionally on one of their projects, for a window."""
        self._require_ops(request, "workforce.view_labeler")
        labeler = get_object_or_404(Labeler.objects.select_related("user", "vendor"), pk=labeler_id)
        worked_on = Assignment.objects.filter(labeler_id=labeler.pk).values("project_id")
        projects = list(
            Project.objects.filter(pk__in=worked_on).only("id", "name").order_by("name")
        )
        names = {p.pk: p.name for p in projects}
        asked = ScorecardFilter(request.GET or None, projects=projects)
        project_id = _cleaned(asked, "project")
        window = _cleaned(asked, "window", DEFAULT_WINDOW)
        # The form shows what the page shows — the default window, or all projects and all
        # time after bad input — so pressing Show never changes the figures.
        form = ScorecardFilter({"project": project_id or "", "window": window}, projects=projects)
        now = timezone.now()
        card = quality_pages.labeler_scorecard(labeler=labeler, project_id=project_id, now=now)
        s, t = card["scores"], card["throughput"]
        firings = rule_firings_for(actor=request.user).filter(labeler_id=labeler.pk)
        if project_id is not None:
            firings = firings.filter(project_id=project_id)
        firings = list(firings.order_by("-fired_at", "-id")[:MAX_FIRINGS])
        weekly = [
            charts.RatePoint(
                label=f"{w['week']:%d %b}",
                rate=w["rate"],
                low=w["low"],
                high=w["high"],
                n=w["n"],
                at=w["week"],  # on a time axis: a week without checks is a gap
            )
            for w in s["gold_weekly"]
        ]
        window_name = dict(WINDOW_CHOICES)[window]
        throughput = t["windows"][window]
        context = {
            "title": f"Scorecard of {person_label(labeler)}",
            "labeler": labeler,
            "form": form,
            "filter_errors": asked.errors if asked.is_bound else {},
            "project_name": names.get(project_id) if project_id else None,
            "window_name": window_name,
            "headline": [
                ("Gold accuracy, control tasks", rate_text(s["gold_accuracy"][window])),
                ("Gold accuracy, quizzes", rate_text(s["quiz_accuracy"][window])),
                ("Agreement with peers (pairs)", rate_text(s["agreement"]["pairwise"][window])),
                ("Agreement with the final label", rate_text(s["agreement"]["with_final"][window])),
            ],
            "contested": s["contested_checks"],
            "weekly_chart": _svg(
                charts.rate_band_chart(
                    weekly, title=f"Weekly gold accuracy of {labeler.public_code}"
                )
            ),
            "weekly": [(p.label, rate_text(asdict(p))) for p in weekly],
            "per_class": [(c["class_name"], rate_text(c)) for c in s["per_class"]],
            "confusion_gold": _confusion_chart(
                s["confusion_vs_gold"], title="Confusion against gold", row_name="gold"
            ),
            "confusion_final": _confusion_chart(
                s["confusion_vs_final"], title="Confusion against final labels", row_name="final"
            ),
            "estimates": [
                {
                    "project": names.get(e["project_id"], f"project {e['project_id']}"),
                    "text": estimate_text(e),
                    "fitted_at": e["fitted_at"],
                }
                for e in s["estimates"]
            ],
            "throughput": [
                ("Labels submitted", str(throughput["submissions"])),
                ("Labels per day", f"{throughput['per_day']:.1f}"),
                ("Active time", duration_text(throughput["active_seconds"])),
                (
                    "Median time per label (all time)",
                    f"{duration_text(t['median_seconds_per_label'])} "
                    f"(n = {t['timed_submissions']} timed labels)",
                ),
            ],
            "daily_chart": _svg(
                charts.bar_chart(
                    _every_day(t["daily"], now=now),
                    title="Labels per day, last 30 days",
                    value_name="labels",
                    y_label="labels per day",
                )
            ),
            "firings": [self._firing_row(f, labeler, names) for f in firings],
            "max_firings": MAX_FIRINGS,
            "firings_url": _url("qc_rulefiring_changelist", query={"q": labeler.user.username}),
        }
        return self._render(
            request, "scorecard.html", context, under=Labeler, obj=labeler, crumb="Scorecard"
        )

    @staticmethod
    def _firing_row(firing, labeler: Labeler, names: dict[int, str]) -> dict[str, Any]:
        i = public_inputs(firing.inputs)
        if {"n", "rate", "lower", "upper"} <= i.keys():
            interval = rate_text(
                {"n": i["n"], "rate": i["rate"], "low": i["lower"], "high": i["upper"]}
            )
            if i.get("bound") and i.get("threshold") is not None:
                interval += f"; {i['bound']} {i.get('comparison', '')} {i['threshold']}"
        else:
            interval = "—"
        reverse_url = None
        if firing.status == firing.Status.OPEN:
            reverse_url = _url(
                "qc_rulefiring_changelist",
                query={
                    "status__exact": firing.Status.OPEN,
                    "rule__id__exact": firing.rule_id,
                    "q": labeler.user.username,
                },
            )
        return {
            "rule": firing.rule.name,
            "project": names.get(firing.project_id, f"project {firing.project_id}"),
            "action": firing.get_action_display(),
            "status": firing.get_status_display(),
            "interval": interval,
            "fired_at": firing.fired_at,
            "url": _url("qc_rulefiring_change", firing.pk),
            "reverse_url": reverse_url,
        }

    # -- the project quality page --------------------------------------------------------------

    def project_quality_view(self, request, object_id: int):
        """Agreement, consensus confidence, decisions, label drift per batch and the project's
        labelers ranked."""
        self._require_ops(request, "assignments.view_project", "workforce.view_labeler")
        project = get_object_or_404(Project, pk=object_id)
        data = quality_pages.project_quality(project=project)
        # Ops see people by name beside their code: one query for every labeler on the page.
        shown = {row["labeler"] for row in data["labelers"]} | {
            pk
            for pair in data["pairs"]
            for pk in (pair["labeler_a"], pair["labeler_b"])
            if pk is not None
        }
        codes = {
            labeler.pk: person_label(labeler)
            for labeler in Labeler.objects.filter(pk__in=shown).select_related("user")
        }
        drift = data["drift"]["batches"]
        sources = dict(
            Batch.objects.filter(pk__in=[b["batch"] for b in drift]).values_list("pk", "source")
        )
        classes = sorted({label["class_name"] for b in drift for label in b["labels"]})
        coefficients = data["coefficients"]
        is_boxes = project.answer_type == "boxes"

        def scorecard(pk: int) -> str | None:
            return _url("assignments_quality_scorecard", pk, query={"project": project.pk})

        ranked = sorted(
            data["labelers"],
            key=lambda r: (
                -(r["gold_all_time"]["low"] if r["gold_all_time"]["n"] else -1.0),
                -(r["estimate"]["accuracy"] if r["estimate"] else -1.0),
                r["public_code"],
            ),
        )
        context = {
            "title": f"Quality of {project.name}",
            "project": project,
            "consensus_method": project.get_consensus_method_display(),
            "confidence_threshold": data["confidence_threshold"],
            "decisions": data["decisions"],
            "decided": sum(v for k, v in data["decisions"].items() if k != "undecided"),
            "is_boxes": is_boxes,
            "pairs": [
                {
                    "a": codes.get(p["labeler_a"], "—"),
                    "b": codes.get(p["labeler_b"], "—"),
                    "a_url": scorecard(p["labeler_a"]),
                    "b_url": scorecard(p["labeler_b"]),
                    "value": coefficient_text(
                        p["box_f1"] if is_boxes else p["cohen_kappa"], p["n"], "shared tasks"
                    ),
                }
                for p in data["pairs"]
            ],
            "fleiss": coefficient_text(
                coefficients["fleiss_kappa"], coefficients["fleiss_tasks"], "tasks"
            ),
            "alpha": coefficient_text(
                coefficients["krippendorff_alpha"], coefficients["tasks"], "tasks"
            ),
            "coefficients_note": coefficients["note"],
            "confidence_chart": _svg(
                charts.bar_chart(
                    [(f"{b['low']:.1f}", b["tasks"]) for b in data["confidence"]["bins"]],
                    title="Consensus confidence (weighted posterior), tasks per bin",
                )
            ),
            "confidence_missing": data["confidence"]["missing"],
            "agreement_chart": _svg(
                charts.bar_chart(
                    [(f"{b['low']:.1f}", b["tasks"]) for b in data["agreement"]["bins"]],
                    title="Agreement among a task's answers, tasks per bin",
                )
            ),
            "agreement_missing": data["agreement"]["missing"],
            "classes": classes,
            "batches": [
                {
                    "id": b["batch"],
                    "source": sources.get(b["batch"], ""),
                    "tasks": b["tasks"],
                    "counts": [
                        next((x["tasks"] for x in b["labels"] if x["class_name"] == c), 0)
                        for c in classes
                    ],
                    "chi_square": b["chi_square"],
                    "dof": b["dof"],
                    "p_value": b["p_value"],
                    "drift": b["drift"],
                }
                for b in drift
            ],
            "drift_flagged": sum(1 for b in drift if b["drift"]),
            "drift_note": data["drift"]["note"],
            "drift_events": drift_event_rows(project.pk),
            "drift_events_url": reverse("admin:assignments_driftevent_changelist")
            + f"?project__id__exact={project.pk}",
            "drift_chart": _svg(
                charts.stacked_bar_chart(
                    [
                        (
                            f"batch {b['batch']}",
                            [(x["class_name"], x["tasks"]) for x in b["labels"]],
                        )
                        for b in drift
                    ],
                    classes=classes,
                    title="Final labels per batch (share of each class)",
                )
            ),
            "labelers": [
                {
                    "code": codes.get(r["labeler"]) or r["public_code"] or f"#{r['labeler']}",
                    "url": scorecard(r["labeler"]),
                    "gold_30": rate_text(r["gold_last_30_days"]),
                    "gold_all": rate_text(r["gold_all_time"]),
                    "estimate": estimate_text(r["estimate"]),
                    "pairwise": rate_text(r["pairwise"]),
                    "with_final": rate_text(r["with_final"]),
                }
                for r in ranked
            ],
            "computed_at": data["computed_at"],
            "vendors_url": reverse("admin:assignments_quality_vendors") + f"?project={project.pk}",
        }
        return self._render(
            request, "project.html", context, under=Project, obj=project, crumb="Quality"
        )

    # -- the vendor comparison -----------------------------------------------------------------

    def vendor_comparison_view(self, request):
        """Quality and throughput per vendor (and the internal labelers), all projects or one."""
        self._require_ops(request, "workforce.view_vendor")
        projects = list(Project.objects.only("id", "name").order_by("name"))
        form = VendorFilter(request.GET or None, projects=projects)
        project_id = _cleaned(form, "project")
        now = timezone.now()
        work = _vendor_throughput(project_id=project_id, now=now)
        times = vendor_active_time(project_id=project_id, before=now)
        rows = quality_facts.vendor_comparison(
            project_id=project_id, now=now, with_vendors={*work, *times}
        )
        by_vendor = {row["vendor_id"]: row for row in rows}
        vendors = []
        for vendor_id, row in sorted(
            by_vendor.items(), key=lambda kv: (kv[0] is None, kv[1]["vendor_name"])
        ):
            w = work.get(vendor_id, {})
            t = times.get(vendor_id) or active_time_row()
            mean = row["mean_estimated_accuracy"]
            vendors.append(
                {
                    "name": row["vendor_name"] if vendor_id is not None else "Internal labelers",
                    "url": _url("workforce_vendor_change", vendor_id) if vendor_id else None,
                    "labelers": w.get("labelers", 0),
                    "labelers_checked": row["labelers_checked"],
                    "labels": w.get("labels", 0),
                    "gold_30": rate_text(row["gold_last_30_days"]),
                    "gold_all": rate_text(row["gold_all_time"]),
                    "with_final": rate_text(row["with_final"]),
                    "pairwise": rate_text(row["pairwise"]),
                    "estimate": (
                        f"{percent(mean)} (mean of n = {row['estimated_labelers']} labelers)"
                        if mean is not None
                        else "not fitted yet"
                    ),
                    "per_day": f"{w.get('per_day', 0.0):.1f}",
                    "active": duration_text(w.get("active_seconds", 0)),
                    # Active time by activity (assignments.selectors.active_time).
                    "review_hours": f"{t['review_hours']:.2f}",
                    "quiz_hours": f"{t['quiz_hours']:.2f}",
                    "seconds_per_label": (
                        f"{t['seconds_per_label']:.0f} s"
                        if t["seconds_per_label"] is not None
                        else DASH
                    ),
                }
            )
        context = {
            "title": "Vendor comparison",
            "form": form,
            "project_name": next((p.name for p in projects if p.pk == project_id), None),
            "vendors": vendors,
            "accuracy_chart": _vendor_accuracy_chart(by_vendor),
            "throughput_days": THROUGHPUT_DAYS,
        }
        return self._render(
            request, "vendors.html", context, under=Vendor, crumb="Quality comparison"
        )


# -- the labeler's page ----------------------------------------------------------------------------


@labeler_panel("Scorecard summary", order=5)
def scorecard_panel(request, labeler: Labeler) -> SafeString:
    """The scorecard's headline figures, all projects (``labeler_scorecard``, ten queries at
    most), with a link to the whole scorecard."""
    card = quality_pages.labeler_scorecard(labeler=labeler, now=timezone.now())
    s, windows = card["scores"], card["throughput"]["windows"]
    rows = [
        (
            "Gold accuracy, control tasks, last 30 days",
            rate_text(s["gold_accuracy"]["last_30_days"]),
        ),
        ("Gold accuracy, control tasks, all time", rate_text(s["gold_accuracy"]["all_time"])),
        ("Gold accuracy, quizzes, all time", rate_text(s["quiz_accuracy"]["all_time"])),
        ("Agreement with the final label", rate_text(s["agreement"]["with_final"]["all_time"])),
        (
            "Labels submitted (last 7 days, all time)",
            f"{windows['last_7_days']['submissions']}, {windows['all_time']['submissions']}",
        ),
    ]
    lines = format_html_join("", '<tr><th scope="row">{}</th><td>{}</td></tr>', rows)
    return format_html(
        '<table>{}</table><p><a href="{}">Whole scorecard…</a></p>',
        lines,
        reverse("admin:assignments_quality_scorecard", args=[labeler.pk]),
    )
