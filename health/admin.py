"""Admin of the health app: background work that failed for good (``health.failures``), with a
"Retry" action that sends each selected task again (``health.services.failed_task_retry``, one
transaction each)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

from config.admin import ReadOnlyAdmin, ServiceActionsMixin
from health import services
from health.models import FailedTask


class RetriedFilter(admin.SimpleListFilter):
    title = "retried"
    parameter_name = "retried"

    def lookups(self, request, model_admin):
        return (("no", "Not retried"), ("yes", "Retried"))

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(retried_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(retried_at__isnull=False)
        return queryset


@admin.register(FailedTask)
class FailedTaskAdmin(ServiceActionsMixin, ReadOnlyAdmin):
    list_display = ("task_name", "error", "failed_at", "retried")
    list_filter = (RetriedFilter, "task_name", "failed_at")
    search_fields = ("task_name", "task_id", "exception")
    date_hierarchy = "failed_at"
    related = ("retried_by",)
    list_select_related = ("retried_by",)
    actions = ("retry",)
    fields = (
        "task_name",
        "task_id",
        "args",
        "kwargs",
        "exception",
        "traceback_text",
        "hostname",
        "failed_at",
        "retried_at",
        "retried_by",
        "retried_task_id",
    )
    readonly_fields = fields

    @admin.display(description="error")
    def error(self, obj: FailedTask) -> str:
        first = (obj.exception or "").strip().splitlines()
        return (first[0][:120] if first else "") or "—"

    @admin.display(description="retried", boolean=True, ordering="retried_at")
    def retried(self, obj: FailedTask) -> bool:
        return obj.retried_at is not None

    @admin.display(description="traceback")
    def traceback_text(self, obj: FailedTask):
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', obj.traceback or "—")

    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm("health.change_failedtask")

    @admin.action(description="Retry: send the selected tasks again", permissions=["retry"])
    def retry(self, request, queryset):
        self.apply_each(
            request,
            queryset.order_by("pk"),
            lambda row: services.failed_task_retry(failed_task_id=row.pk, actor=request.user),
            success=lambda n: f"Sent {n} task(s) again; a new failure is a new row.",
        )
