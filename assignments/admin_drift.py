"""Admin of label drift events (``assignments.services.drift``): listed and shown read-only,
acknowledged with an action (who saw it, when). A paused project is resumed from the project's
own page."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from assignments.models import DriftEvent
from assignments.selectors import drift as drift_selectors
from assignments.services import drift as drift_services
from config.admin import ReadOnlyAdmin, ServiceActionsMixin


class AcknowledgedFilter(admin.SimpleListFilter):
    title = "acknowledged"
    parameter_name = "acknowledged"

    def lookups(self, request, model_admin):
        return (("no", "Not acknowledged"), ("yes", "Acknowledged"))

    def queryset(self, request, queryset):
        if self.value() in ("no", "yes"):
            return queryset.filter(acknowledged_at__isnull=self.value() == "no")
        return queryset


@admin.register(DriftEvent)
class DriftEventAdmin(ServiceActionsMixin, ReadOnlyAdmin):
    list_display = ("batch", "project", "p_value_text", "n", "action", "detected_at", "seen")
    list_filter = (AcknowledgedFilter, "action", "project", "detected_at")
    search_fields = ("project__name", "project__slug")
    list_select_related = ("project", "batch__project", "rule")
    related = ("project", "batch__project", "rule", "acknowledged_by")
    date_hierarchy = "detected_at"
    actions = ("acknowledge",)
    fields = (
        "project",
        "batch",
        "p_value",
        "statistic",
        "dof",
        "n",
        "baseline_n",
        "classes",
        "rule",
        "action",
        "detected_at",
        "acknowledged_at",
        "acknowledged_by",
    )
    readonly_fields = fields

    @admin.display(description="p-value", ordering="p_value")
    def p_value_text(self, obj: DriftEvent) -> str:
        return f"{obj.p_value:.2g}"

    @admin.display(description="acknowledged", boolean=True, ordering="acknowledged_at")
    def seen(self, obj: DriftEvent) -> bool:
        return obj.acknowledged_at is not None

    @admin.display(description="classes (batch count; baseline share)")
    def classes(self, obj: DriftEvent):
        rows = [
            (name, obj.observed.get(name, 0), f"{share:.1%}")
            for name, share in sorted((obj.expected or {}).items())
        ]
        if not rows:
            return "—"
        cells = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
        return format_html("<table>{}</table>", cells)

    def has_acknowledge_permission(self, request) -> bool:
        return request.user.has_perm("assignments.change_driftevent")

    @admin.action(description="Acknowledge the selected drift events", permissions=["acknowledge"])
    def acknowledge(self, request, queryset):
        done = sum(
            drift_services.drift_event_acknowledge(actor=request.user, event_id=pk)
            for pk in queryset.order_by("pk").values_list("pk", flat=True)
        )
        self.message_user(request, f"Acknowledged {done} drift event(s).")


def drift_event_rows(project_id: int) -> list[dict]:
    """The project quality page's drift events panel: the latest events, each with its admin
    link. One query."""
    return [
        {
            "batch": event.batch_id,
            "p_value": f"{event.p_value:.2g}",
            "n": event.n,
            "baseline_n": event.baseline_n,
            "action": event.action or "recorded",
            "rule": event.rule.name if event.rule else "",
            "detected_at": event.detected_at,
            "acknowledged": event.acknowledged_at is not None,
            "url": reverse("admin:assignments_driftevent_change", args=[event.pk]),
        }
        for event in drift_selectors.drift_events_recent(project_id=project_id)
    ]
