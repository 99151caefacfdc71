"""The operations admin for gold: gold sets (with their first items inline, import and export)
and gold items (filters, quarantine / retire / reactivate with a reason).

Every write goes through ``qc.services.gold``: adding or editing a set or an item, changing an
item's status (an action that asks for the reason, recorded in the item's history), and the
all-or-nothing import. Gold items are never deleted (quizzes refer to them): they are retired.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.forms.models import BaseInlineFormSet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from config.admin import (
    ConfirmationActionsMixin,
    FileImportForm,
    FileImportMixin,
    NeverDeletedMixin,
    ReadOnlyInline,
    ReasonForm,
    ServiceFormAdminMixin,
    ServiceModelForm,
    StatusHistoryInline,
    annotation_column,
    error_text,
    object_view_urls,
    reason_asking_action,
    with_reason,
)
from config.downloads import file_download
from config.errors import ApplicationError
from config.uploads import upload_file
from qc.control_sets import SHOWS_ANSWERS, control_recheck, control_uses
from qc.models import GoldCheck, GoldItem, GoldItemStatusChange, GoldSet
from qc.selectors import gold as selectors
from qc.selectors.gold_health import gold_items_flagged_ids
from qc.services import gold as services
from qc.services import gold_health as health_services

INLINE_ITEMS = 25
GS = GoldItem.Status


# -- gold sets ----------------------------------------------------------------------------------


class GoldSetForm(ServiceModelForm):
    class Meta:
        model = GoldSet
        fields = services.SET_FIELDS


class _FirstItemsFormSet(BaseInlineFormSet):
    """Only the first ``INLINE_ITEMS`` items: a set of thousands must not render thousands of
    rows (the set page links to the full, filterable item list)."""

    def get_queryset(self):
        if not hasattr(self, "_queryset"):
            self._queryset = super().get_queryset()[:INLINE_ITEMS]
        return self._queryset


class GoldItemInline(ReadOnlyInline):
    model = GoldItem
    formset = _FirstItemsFormSet
    fields = ("external_id", "status", "difficulty", "stratum", "updated_at")
    readonly_fields = fields
    ordering = ("id",)
    related = ("gold_set",)
    show_change_link = True
    verbose_name_plural = f"items (the first {INLINE_ITEMS}; see all in the gold items list)"


class GoldImportForm(FileImportForm):
    max_bytes = services.GOLD_IMPORT_MAX_BYTES
    too_large = services.ImportTooLarge.default_detail
    max_rows = services.GOLD_IMPORT_MAX_ROWS


@admin.register(GoldSet)
class GoldSetAdmin(NeverDeletedMixin, FileImportMixin, ServiceFormAdminMixin, admin.ModelAdmin):
    # Never deleted: gold is retired, and quizzes and attempts refer to it.
    form = GoldSetForm
    create_service = staticmethod(services.gold_set_create)
    create_defaults = {"iou_threshold": "0.5"}
    update_service = staticmethod(services.gold_set_update)
    update_target = "gold_set"
    editable_fields = services.SET_EDITABLE_FIELDS
    list_display = (
        "name",
        "slug",
        "answer_type",
        "guide",
        "iou_threshold",
        "item_count",
        "active_count",
        "quarantined_count",
        "retired_count",
    )
    list_filter = ("answer_type", "guide")
    search_fields = ("name", "slug", "description")
    autocomplete_fields = ("guide",)
    prepopulated_fields = {"slug": ("name",)}
    inlines = (GoldItemInline,)

    def get_queryset(self, request):
        # Guide joined and item counts annotated by the selector: one query per page.
        return selectors.gold_set_list_for(actor=request.user)

    def get_fields(self, request, obj=None):
        if obj is None:
            return GoldSetForm.Meta.fields
        return (*GoldSetForm.Meta.fields, "items_summary", "control_use", "files", "created_at")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        # What the items' answers were validated against does not change.
        return (
            "slug",
            "guide",
            "answer_type",
            "items_summary",
            "control_use",
            "files",
            "created_at",
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET" and object_id and str(object_id).isdigit():
            # A set that a quiz teaches (answers shown) and projects also draw control tasks
            # from: say so at the top of the page, not only in its panel.
            for use in control_uses(gold_set_id=int(object_id)):
                for warning in use.warnings:
                    if warning["code"] == SHOWS_ANSWERS:
                        self.message_user(
                            request, f"{use.project_name}: {warning['message']}", messages.WARNING
                        )
        return super().change_view(request, object_id, form_url, extra_context)

    def get_prepopulated_fields(self, request, obj=None):
        return {} if obj is not None else self.prepopulated_fields

    def get_inlines(self, request, obj):
        return () if obj is None else super().get_inlines(request, obj)

    item_count = annotation_column("item_count", "items")
    active_count = annotation_column("active_count", "active")
    quarantined_count = annotation_column("quarantined_count", "quarantined")
    retired_count = annotation_column("retired_count", "retired")

    @admin.display(description="items")
    def items_summary(self, obj: GoldSet) -> str:
        url = reverse("admin:qc_golditem_changelist") + f"?gold_set__id__exact={obj.pk}"
        return format_html(
            '{} active, {} quarantined, {} retired — <a href="{}">all {} items</a>',
            obj.active_count,
            obj.quarantined_count,
            obj.retired_count,
            url,
            obj.item_count,
        )

    @admin.display(description="control set of")
    def control_use(self, obj: GoldSet) -> str:
        """The projects drawing control tasks from this set, how their control tasks compare
        with their real tasks, and the warnings about them (docs/next-task.md, "Control tasks
        that look like real ones")."""
        uses = control_uses(gold_set_id=obj.pk)
        if not uses:
            return "No project draws control tasks from this set."
        return format_html_join(
            "",
            '<p><a href="{}">{}</a>: {}{}</p>',
            (
                (
                    use.admin_url,
                    use.project_name,
                    use.summary,
                    format_html_join(
                        "",
                        "<br><strong>Warning:</strong> {}",
                        ((w["message"],) for w in use.warnings),
                    ),
                )
                for use in uses
            ),
        )

    @admin.display(description="import / export")
    def files(self, obj: GoldSet) -> str:
        export = reverse("admin:qc_goldset_export", args=[obj.pk])
        return format_html(
            '<a href="{}">Import gold…</a> · Export: <a href="{}?format=csv">CSV</a> · '
            '<a href="{}?format=jsonl">JSONL</a>',
            reverse("admin:qc_goldset_import", args=[obj.pk]),
            export,
            export,
        )

    # -- import / export views --

    import_permissions = ("qc.add_golditem", "qc.change_golditem")
    import_form = GoldImportForm
    import_template = "admin/qc/goldset/import.html"
    import_columns = services.COLUMNS

    def get_urls(self):
        return [*object_view_urls(self, "import", "export"), *super().get_urls()]

    def import_view(self, request, object_id):
        """Upload a CSV or JSONL file → ``gold_import``. On any invalid row, the rows' errors
        are listed and nothing is written; on success, back to the set with the counts."""
        gold_set = self.import_target(request, object_id)

        def run(c: dict) -> str:
            upload = c["file"]
            result = services.gold_import(
                actor=request.user,
                gold_set=gold_set,
                data=upload_file(upload),
                file_format=c["format"],
                file_name=upload.name or "",
            )
            # The projects drawing control tasks from this set are checked again against
            # their real tasks; differences are reported here, and refuse their activation.
            for use in control_recheck(actor=request.user, gold_set_id=gold_set.pk):
                if not use.ok:
                    self.message_user(
                        request,
                        f"{use.project_name}: {use.summary} Activation with control tasks is "
                        "refused until they match or an override gives a reason.",
                        messages.WARNING,
                    )
            return (
                f"Imported {upload.name}: {result.created} created, {result.updated} "
                f"updated, {result.unchanged} unchanged."
            )

        return self.file_import_page(
            request,
            obj=gold_set,
            run=run,
            title=f"Import gold into {gold_set}",
            context={"required": services.REQUIRED_COLUMNS},
        )

    def export_view(self, request, object_id):
        """The set's items as CSV or JSONL (``?format=``), streamed."""
        gold_set = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_view_permission(request, gold_set):
            raise PermissionDenied
        file_format = request.GET.get("format", "csv")
        if file_format not in services.IMPORT_FORMATS:
            file_format = "csv"
        rows = services.gold_export(gold_set=gold_set, file_format=file_format)
        return file_download(
            rows, file_format=file_format, file_name=f"{gold_set.slug}-gold.{file_format}"
        )


# -- gold items ---------------------------------------------------------------------------------


class GoldItemForm(ServiceModelForm):
    class Meta:
        model = GoldItem
        fields = ("gold_set", *services.ITEM_FIELDS)
        widgets = {
            "payload": forms.Textarea(attrs={"rows": 4, "cols": 80}),
            "accepted_answers": forms.Textarea(attrs={"rows": 4, "cols": 80}),
        }


class StatusReasonForm(ReasonForm):
    reason_help = "Recorded in each selected item's status history."


class CorrectAnswerForm(ReasonForm):
    reason_help = "Recorded in the item's status history."
    field_order = ("accepted_answers", "reason")

    accepted_answers = forms.JSONField(
        help_text='The right answers, as JSON: e.g. ["rust"] for single choice.'
    )


def _set_status(status: str):
    """``gold_item_set_status`` to ``status`` as a reason-asking action's ``apply``; an item
    reactivated out of quarantine is reinstated instead (unchanged: its checks count again)."""

    def apply(request, item: GoldItem, c: dict) -> None:
        if status == GS.ACTIVE and item.status == GS.QUARANTINED:
            health_services.gold_item_reinstate(actor=request.user, item=item, reason=c["reason"])
        else:
            services.gold_item_set_status(
                actor=request.user, item=item, status=status, reason=c["reason"]
            )

    return apply


class GoldHealthFilter(admin.SimpleListFilter):
    """Items strong labelers miss unusually often or with open contests
    (``qc.selectors.gold_health``), and items with any open contest."""

    title = "gold health"
    parameter_name = "health"

    def lookups(self, request, model_admin):
        return (("flagged", "Flagged"), ("contested", "With open contests"))

    def queryset(self, request, queryset):
        if self.value() == "flagged":
            return queryset.filter(pk__in=gold_items_flagged_ids())
        if self.value() == "contested":
            return queryset.filter(open_contests__gt=0)
        return queryset


class GoldItemStatusChangeInline(StatusHistoryInline):
    model = GoldItemStatusChange
    related = ("actor", "gold_item__gold_set")


@admin.register(GoldItem)
class GoldItemAdmin(
    NeverDeletedMixin, ConfirmationActionsMixin, ServiceFormAdminMixin, admin.ModelAdmin
):
    # Never deleted: an item is retired, and quizzes refer to it.
    form = GoldItemForm
    create_service = staticmethod(services.gold_item_create)
    create_defaults = {"difficulty": GoldItem.Difficulty.MEDIUM, "status": GS.ACTIVE}
    update_service = staticmethod(services.gold_item_update)
    update_target = "item"
    editable_fields = services.ITEM_EDITABLE_FIELDS
    list_display = (
        "external_id",
        "gold_set",
        "status",
        "difficulty",
        "stratum",
        "guide_version_number",
        "check_count",
        "miss_count",
        "open_contests",
        "updated_at",
    )
    list_filter = ("gold_set", "status", GoldHealthFilter, "difficulty", "stratum")
    search_fields = ("external_id", "explanation", "gold_set__slug", "gold_set__name")
    list_select_related = ("gold_set", "guide_version")
    autocomplete_fields = ("gold_set", "guide_version")
    inlines = (GoldItemStatusChangeInline,)
    actions = ("quarantine", "reinstate", "correct_answer", "retire", "reactivate")
    change_fields = (
        "gold_set",
        "external_id",
        "status",
        "payload",
        "accepted_answers",
        "explanation",
        "guide_version",
        "difficulty",
        "stratum",
        "created_at",
        "updated_at",
    )

    def get_queryset(self, request):
        # Check counts as correlated subqueries: one query per page, no join fan-out.
        def count(**filters):
            return Subquery(
                GoldCheck.objects.filter(gold_item_id=OuterRef("pk"), **filters)
                .order_by()
                .values("gold_item_id")
                .annotate(n=Count("id"))
                .values("n")[:1]
            )

        return (
            super()
            .get_queryset(request)
            .defer("guide_version__body", "guide_version__label_definitions")
            .annotate(
                checks_n=Coalesce(count(), 0),
                misses_n=Coalesce(count(correct=False), 0),
                open_contests=Coalesce(count(contest=GoldCheck.Contest.OPEN), 0),
            )
        )

    check_count = annotation_column("checks_n", "checks")
    miss_count = annotation_column("misses_n", "misses")
    open_contests = annotation_column("open_contests", "open contests")

    def get_fields(self, request, obj=None):
        return GoldItemForm.Meta.fields if obj is None else self.change_fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        # The status changes through the actions (with a reason); the set and id never.
        return ("gold_set", "external_id", "status", "stratum", "created_at", "updated_at")

    def get_inlines(self, request, obj):
        return () if obj is None else super().get_inlines(request, obj)

    @admin.display(description="guide version", ordering="guide_version__major")
    def guide_version_number(self, obj: GoldItem) -> str:
        return obj.guide_version.number if obj.guide_version_id else "—"

    # -- status actions --

    # Each asks for a reason (required), recorded in the item's status history, then changes
    # each selected item's status — one transaction each — and reports successes and failures.
    reason_form = StatusReasonForm
    reason_noun = "gold item"
    reason_related = ("gold_set",)

    def reason_line(self, item: GoldItem) -> str:
        return f"{item} ({item.get_status_display().lower()})"

    quarantine, reinstate, retire, reactivate = (
        reason_asking_action(verb, description=description, apply=apply, past=past)
        for verb, description, apply, past in (
            # Quarantine: not served, its checks stop counting, a gold review opens (beat job).
            (
                "quarantine",
                "Quarantine selected items (answer in doubt)",
                with_reason(health_services.gold_item_quarantine, "item"),
                "Quarantined",
            ),
            (
                "reinstate",
                "Reinstate selected items (answer was right)",
                with_reason(health_services.gold_item_reinstate, "item"),
                "Reinstated",
            ),
            ("retire", "Retire selected items", _set_status(GS.RETIRED), "Retired"),
            ("reactivate", "Reactivate selected items", _set_status(GS.ACTIVE), "Reactivated"),
        )
    )

    @admin.action(
        description="Correct the answer of one item (re-grades its checks)", permissions=["change"]
    )
    def correct_answer(self, request, queryset):
        """Ask for the new accepted answers and a reason, then ``gold_item_correct``: every
        check of the item is re-graded and counted, its open contests resolved."""
        items = list(queryset.select_related("gold_set").order_by("pk")[:2])
        if len(items) != 1:
            self.message_user(request, "Select exactly one item to correct.", messages.ERROR)
            return None
        item = items[0]
        form = CorrectAnswerForm(
            request.POST if "post" in request.POST else None,
            initial={"accepted_answers": item.accepted_answers},
        )
        if form.is_valid():
            try:
                result = health_services.gold_item_correct(
                    actor=request.user,
                    item=item,
                    accepted_answers=form.cleaned_data["accepted_answers"],
                    reason=form.cleaned_data["reason"],
                )
            except (ApplicationError, ValidationError) as exc:
                self.message_user(
                    request, f"Could not correct {item}: {error_text(exc)}", messages.ERROR
                )
            else:
                self.message_user(
                    request,
                    f"Corrected {item}: {result.changed} of {result.regraded} verdicts changed; "
                    f"contests {result.upheld} upheld, {result.overturned} overturned.",
                    messages.SUCCESS,
                )
            return None
        return self.confirmation_page(
            request,
            action="correct_answer",
            title="Correct a gold item's answer",
            intro="Every check of this item is re-graded against the new answers:",
            lines=[f"{item} (now {item.accepted_answers!r})"],
            object_pks=[item.pk],
            submit_label="Correct",
            form=form,
        )
