"""The operations admin for work: projects (with their progress, status history, the status
actions and the task import), batches, tasks, assignments and reviews.

Thin like the rest of the admin: progress columns are correlated counts in the page's own query
(``assignments.selectors.progress``), never counters; creating and changing a project, its
status, a task's priority and an import all go through the services; tasks are read-only but
for their priority, batches, assignments, reviews and status history entirely.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from assignments import selectors, services
from assignments.admin_quality_pages import QualityDashboardsMixin
from assignments.models import (
    PROJECT_DRAFT_ONLY_SETTINGS,
    PROJECT_SETTINGS,
    Assignment,
    Batch,
    Project,
    ProjectRefit,
    ProjectStatusChange,
    Review,
    Task,
    TaskDecision,
)
from assignments.selectors import control_set as control_selectors
from assignments.selectors.review import REVIEW_FIELDS
from assignments.services import control_set as control_services
from assignments.services import review as review_services
from assignments.services.imports import (
    IMPORT_COLUMNS,
    TASK_IMPORT_MAX_BYTES,
    TASK_IMPORT_MAX_ROWS,
    TASK_ROW_COLUMNS,
)
from config.admin import (
    AutocompleteFilterMixin,
    AutocompleteListFilter,
    ConfirmationActionsMixin,
    FileImportForm,
    FileImportMixin,
    LargeTableMixin,
    NeverDeletedMixin,
    ReadOnlyAdmin,
    ReasonForm,
    ServiceFormAdminMixin,
    ServiceModelForm,
    StatusHistoryInline,
    adopt,
    annotation_column,
    error_text,
    object_view_urls,
    person_column,
    reason_asking_action,
)
from config.errors import ApplicationError
from config.uploads import upload_file
from qc.admin import rules as rules_admin
from qc.models import GuideVersion
from workforce.admin import PANEL_ROWS, labeler_panel, panel_link, panel_table, panel_time


def _project_names(ids) -> dict[int, str]:
    return dict(Project.objects.filter(pk__in=list(ids)).values_list("pk", "name"))


def _project_choices() -> list[tuple[int, str]]:
    return list(Project.objects.order_by("name").values_list("pk", "name"))


# qc's admin shows projects by id unless told their names (qc cannot import assignments).
rules_admin.use_project_names(_project_names, choices=_project_choices)

S = Project.Status

# -- progress columns ------------------------------------------------------------------------------


class ProgressColumnsMixin:
    """Columns for the ``progress_*`` annotations of the progress selectors."""

    progress_total = annotation_column("progress_total", "tasks")
    progress_open = annotation_column("progress_open", "open")
    progress_leased = annotation_column("progress_leased", "leased")
    progress_done = annotation_column("progress_done", "done")
    progress_review = annotation_column("progress_review", "in review")


PROGRESS_COLUMNS = (
    "progress_total",
    "progress_open",
    "progress_leased",
    "progress_done",
    "progress_review",
)


def _progress_line(obj: Project | Batch, tasks_url: str) -> str:
    """A project's or batch's progress in one line, its task count linking to ``tasks_url``:
    read from the ``progress_*`` annotations of the progress selectors."""
    return format_html(
        '<a href="{}">{} tasks</a>: {} open, {} leased now, {} done, {} in review',
        tasks_url,
        obj.progress_total,
        obj.progress_open,
        obj.progress_leased,
        obj.progress_done,
        obj.progress_review,
    )


# -- projects --------------------------------------------------------------------------------------


class ProjectForm(ServiceModelForm):
    """Saved by ``project_create`` / ``project_update``, which validate everything: no model
    validation or copying onto the instance here."""

    class Meta:
        model = Project
        fields = ("slug", *PROJECT_SETTINGS)

    # project_create's explicit arguments; any other setting left empty takes its default.
    REQUIRED = ("name", "answer_type", "classes")
    # Quality settings left empty take the service's defaults (weighted consensus, no
    # threshold, a 2% floor, a refit every DEFAULT_REFIT_EVERY labels; UTC, a drift p-value of
    # 0.001), as the other defaulted settings do.
    OPTIONAL = (
        "consensus_method",
        "confidence_threshold",
        "control_floor",
        "refit_every",
        "timezone",
        "drift_alpha",
    )

    # A comma-separated list on the form (the service checks each code).
    required_languages = forms.CharField(
        required=False,
        widget=forms.TextInput(attrs={"class": "vTextField"}),
        help_text='Comma-separated BCP 47 codes a labeler must speak, each: "pt" is met by '
        '"pt-BR" (not the reverse); case is ignored.',
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.OPTIONAL:
            if name in self.fields:  # absent where the page shows the project read-only
                self.fields[name].required = False
        if self.instance.pk and "required_languages" in self.fields:
            self.initial["required_languages"] = ", ".join(self.instance.required_languages or [])

    def clean_required_languages(self) -> list[str]:
        return [p.strip() for p in self.cleaned_data["required_languages"].split(",") if p.strip()]


class TaskImportForm(FileImportForm):
    max_bytes = TASK_IMPORT_MAX_BYTES
    too_large = services.ImportTooLarge.default_detail
    max_rows = TASK_IMPORT_MAX_ROWS

    source = forms.CharField(max_length=200, required=False, help_text="Where the items came from.")
    note = forms.CharField(max_length=10_000, required=False, widget=forms.Textarea({"rows": 2}))
    priority = forms.IntegerField(
        initial=0,
        min_value=-(2**31) + 1,
        max_value=2**31 - 1,
        help_text="The priority of rows that give none.",
    )


class ControlOverrideForm(ReasonForm):
    reason_help = (
        "Why serving these control tasks as they are is acceptable. Kept on the project with "
        "your name and the time; a change of the control gold set, or a new difference, "
        "withdraws it."
    )


class ProjectStatusChangeInline(StatusHistoryInline):
    """The project's status history: its time field is ``at``."""

    model = ProjectStatusChange
    fields = ("at", "from_status", "to_status", "actor", "reason")
    readonly_fields = fields
    ordering = ("-at", "-id")


@admin.register(Project)
class ProjectAdmin(
    NeverDeletedMixin,
    QualityDashboardsMixin,
    ProgressColumnsMixin,
    ConfirmationActionsMixin,
    FileImportMixin,
    ServiceFormAdminMixin,
    admin.ModelAdmin,
):
    # Never deleted: projects are finished, and tasks, answers and pay refer to them.
    form = ProjectForm
    list_display = (
        "name",
        "slug",
        "status",
        "answer_type",
        "overlap",
        "priority",
        *PROGRESS_COLUMNS,
        "quality_link",
    )
    list_filter = ("status", "answer_type")
    search_fields = ("name", "slug")
    autocomplete_fields = (
        "control_gold_set",
        "guide",
        "required_qualifications",
        "allowed_vendors",
        "required_skills",
    )
    prepopulated_fields = {"slug": ("name",)}
    actions = (
        "activate",
        "pause",
        "resume",
        "finish",
        "release_stale_leases",
        "recheck_control_tasks",
        "override_control_check",
        "withdraw_control_override",
    )
    inlines = (ProjectStatusChangeInline,)
    # Fixed once the project has been activated (project_update refuses them then).
    schema_fields = PROJECT_DRAFT_ONLY_SETTINGS
    record_fields = (
        "status",
        "progress",
        "control_tasks",
        "files",
        "quality_link",
        "created_by",
        "created_at",
        "updated_at",
    )

    def get_queryset(self, request):
        # Progress counts are sub-selects of the page's query: one query whatever the rows.
        return selectors.project_progress_annotate(super().get_queryset(request))

    # -- columns and read-only fields --------------------------------------------------------------

    @admin.display(description="progress")
    def progress(self, obj: Project) -> str:
        batches = reverse("admin:assignments_batch_changelist") + f"?project__id__exact={obj.pk}"
        tasks = reverse("admin:assignments_task_changelist") + f"?project__id__exact={obj.pk}"
        return format_html('{} — <a href="{}">batches</a>', _progress_line(obj, tasks), batches)

    @admin.display(description="control tasks against real ones")
    def control_tasks(self, obj: Project) -> str:
        """The control set check run for this page (docs/next-task.md, "Control tasks that look
        like real ones"), the override and the warnings: read-only; the actions change them."""
        state = self._control_state(obj)
        parts = [
            format_html("<p><strong>Warning:</strong> {}</p>", w["message"]) for w in state.warnings
        ]
        report = state.report
        if report is None:
            parts.append(format_html("<p>{}</p>", "No control gold set."))
        else:
            parts.append(format_html("<p>{}</p>", report.summary()))
            if report.differences:
                rows = format_html_join(
                    "",
                    "<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td>"
                    "<td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                    (
                        (
                            d.kind.replace("_", " "),
                            d.path,
                            d.control or "—",
                            ", ".join(d.real) or "—",
                            d.items,
                            ", ".join(d.examples),
                        )
                        for d in report.differences
                    ),
                )
                parts.append(
                    format_html(
                        "<table><thead><tr><th>difference</th><th>key</th><th>control items "
                        "have</th><th>real tasks have</th><th>items</th><th>e.g.</th></tr>"
                        "</thead><tbody>{}</tbody></table>",
                        rows,
                    )
                )
        if obj.control_override_at is not None:
            by = obj.control_override_by
            parts.append(
                format_html(
                    "<p>Overridden by {} on {}: “{}”</p>",
                    by.username if by is not None else "(deleted user)",
                    obj.control_override_at,
                    obj.control_override_reason,
                )
            )
        return format_html_join("", "{}", ((p,) for p in parts))

    def _control_state(self, obj: Project) -> control_selectors.ControlState:
        # Run once per page: the panel and the messages at the top show the same check.
        cached = getattr(obj, "_control_state", None)
        if cached is None:
            cached = obj._control_state = control_selectors.project_control_state(project=obj)
        return cached

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None and request.method == "GET" and "/change/" in request.path:
            for warning in self._control_state(obj).warnings:
                self.message_user(request, warning["message"], messages.WARNING)
        return obj

    @admin.display(description="tasks")
    def files(self, obj: Project) -> str:
        if obj.status == S.DONE:
            return "The project is done: it takes no more tasks."
        return format_html(
            '<a href="{}">Import tasks…</a>',
            reverse("admin:assignments_project_import", args=[obj.pk]),
        )

    # The settings by what they decide; a setting not named here shows under "Other settings".
    SETTING_GROUPS = (
        (None, ("slug", "name", "objective")),
        (
            "Labeling",
            (
                "answer_type",
                "classes",
                "iou_threshold",
                "overlap",
                "max_overlap",
                "lease_seconds",
                "priority",
                "show_prelabels",
            ),
        ),
        (
            "Who may work",
            (
                "internal_only",
                "allowed_vendors",
                "required_skills",
                "required_languages",
                "required_qualifications",
                "guide",
                "require_guide_ack",
            ),
        ),
        (
            "Quality",
            (
                "control_ratio",
                "control_gold_set",
                "adaptive_control",
                "control_floor",
                "audit_percent",
                "consensus_method",
                "confidence_threshold",
                "refit_every",
                "drift_alpha",
            ),
        ),
        ("Calendar", ("timezone",)),
    )
    WHO_MAY_WORK = (
        "Who may work on the project, checked by the next-task gate (docs/next-task.md, "
        '"Who may work on a project"): internal staff only; else, if vendors are listed, their '
        "labelers only (internal staff too); every required skill and language, qualification "
        "and the guide's acknowledgement. A suspended vendor's labelers get no work anywhere."
    )

    def get_fields(self, request, obj=None):
        if obj is None:
            return ProjectForm.Meta.fields
        return (*ProjectForm.Meta.fields, *self.record_fields)

    def get_fieldsets(self, request, obj=None):
        named = {name for _, names in self.SETTING_GROUPS for name in names}
        others = tuple(n for n in ProjectForm.Meta.fields if n not in named)
        fieldsets = [
            (
                title,
                {
                    "fields": names,
                    **({"description": self.WHO_MAY_WORK} if title == "Who may work" else {}),
                },
            )
            for title, names in self.SETTING_GROUPS
        ]
        if others:
            fieldsets.append(("Other settings", {"fields": others}))
        if obj is not None:
            fieldsets.append(("Record", {"fields": self.record_fields}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        fixed = ("slug",) if obj.status == S.DRAFT else ("slug", *self.schema_fields)
        return (*fixed, *self.record_fields)

    def get_inlines(self, request, obj=None):
        # A project being added has no history yet.
        return () if obj is None else self.inlines

    def get_prepopulated_fields(self, request, obj=None):
        return {} if obj is not None else self.prepopulated_fields

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.status == S.DONE:
            return False
        return super().has_change_permission(request, obj)

    # -- saving through the services ---------------------------------------------------------------

    def save_model(self, request, obj, form, change):
        c = form.cleaned_data
        # The service takes the many-to-many settings as slugs, as the API gives them.
        slugs = {
            name: [row.slug for row in c.get(name) or ()]
            for name in ("required_qualifications", "allowed_vendors", "required_skills")
        }
        if change:
            data = {
                name: slugs.get(name, c[name])
                for name in form.changed_data
                if name in services.projects.EDITABLE_FIELDS
            }
            if data:
                self._call_service(
                    services.project_update, actor=request.user, project=obj, data=data
                )
            return
        # A setting left empty takes the service's default, as in the API.
        settings = {
            name: c[name]
            for name in PROJECT_SETTINGS
            if name in c and c[name] not in (None, "") and name not in ProjectForm.REQUIRED
        }
        project = self._call_service(
            services.project_create,
            actor=request.user,
            slug=c["slug"],
            name=c["name"],
            answer_type=c["answer_type"],
            classes=c.get("classes"),
            **{**settings, **slugs},
        )
        adopt(obj, project)

    def save_related(self, request, form, formsets, change):
        # No form.save_m2m(): the service has set the required qualifications.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    # -- status actions ----------------------------------------------------------------------------

    def _set_status(self, request, queryset, *, status: str, past: str, from_statuses=None):
        done = 0
        for project in queryset.order_by("pk"):
            try:
                services.project_set_status(
                    actor=request.user,
                    project=project,
                    status=status,
                    from_statuses=from_statuses,
                )
            except (ApplicationError, ValidationError) as exc:
                self.message_user(request, f"{project}: {error_text(exc)}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"{past} {done} project(s).", messages.SUCCESS)

    @admin.action(description="Activate selected projects", permissions=["change"])
    def activate(self, request, queryset):
        self._set_status(request, queryset, status=S.ACTIVE, past="Activated")

    @admin.action(description="Pause selected projects", permissions=["change"])
    def pause(self, request, queryset):
        self._set_status(request, queryset, status=S.PAUSED, past="Paused")

    @admin.action(description="Resume selected projects", permissions=["change"])
    def resume(self, request, queryset):
        self._set_status(
            request, queryset, status=S.ACTIVE, past="Resumed", from_statuses={S.PAUSED}
        )

    @admin.action(description="Finish selected projects (final)", permissions=["change"])
    def finish(self, request, queryset):
        if request.POST.get("post") == "yes":
            self._set_status(request, queryset, status=S.DONE, past="Finished")
            return None
        projects = list(queryset.order_by("pk"))
        return self.confirmation_page(
            request,
            action="finish",
            title="Finish projects",
            intro="A finished project hands out no more work and takes no more tasks; this "
            "cannot be undone. Finish these projects?",
            lines=[
                f"{p} ({p.status}): {p.progress_open} of {p.progress_total} tasks still open"
                for p in projects
            ],
            object_pks=[p.pk for p in projects],
            submit_label="Finish",
        )

    @admin.action(description="Release stale leases of selected projects", permissions=["change"])
    def release_stale_leases(self, request, queryset):
        projects = list(queryset.order_by().values_list("pk", flat=True))
        expired = services.project_leases_expire(projects=projects)
        self.message_user(
            request,
            f"Marked {expired} lapsed lease(s) as expired, in {len(projects)} project(s). Their "
            "slots were already free: an expired lease is not counted when work is handed out.",
            messages.SUCCESS,
        )

    # -- the control set check ---------------------------------------------------------------------

    @admin.action(description="Check control tasks against real tasks", permissions=["change"])
    def recheck_control_tasks(self, request, queryset):
        for project in queryset.order_by("pk"):
            check = control_services.project_control_check(actor=request.user, project=project)
            if check.report is None:
                self.message_user(request, f"{project}: no control gold set.", messages.INFO)
                continue
            level = messages.SUCCESS if check.report.ok or check.overridden else messages.WARNING
            note = " The override was withdrawn: new differences." if check.override_dropped else ""
            self.message_user(request, f"{project}: {check.report.summary()}{note}", level)

    @admin.action(
        description="Override the control check of selected projects (with a reason)",
        permissions=["change"],
    )
    def override_control_check(self, request, queryset):
        return self.reason_action(
            request,
            queryset.order_by("pk"),
            action="override_control_check",
            form_class=ControlOverrideForm,
            apply=lambda project, c: control_services.project_control_override(
                actor=request.user, project=project, reason=c["reason"]
            ),
            verb="override the control check of",
            success=lambda n: f"Overrode the control check of {n} project(s).",
            title="Serve control tasks that differ from the real ones",
            intro="Labelers may be able to tell these control tasks apart from real ones (the "
            "differences are on each project's page). Accept the differences found now?",
            line=self._control_line,
        )

    @staticmethod
    def _control_line(project: Project) -> str:
        report = control_selectors.stored_report(project)
        return f"{project}: {report.summary() if report is not None else 'not checked yet'}"

    @admin.action(description="Withdraw the control override", permissions=["change"])
    def withdraw_control_override(self, request, queryset):
        done = 0
        for project in queryset.order_by("pk"):
            try:
                control_services.project_control_override_clear(actor=request.user, project=project)
            except (ApplicationError, ValidationError) as exc:
                self.message_user(request, f"{project}: {error_text(exc)}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"Withdrew the override of {done} project(s).")

    # -- the task import ---------------------------------------------------------------------------

    import_permissions = ("assignments.add_task", "assignments.add_batch")
    import_form = TaskImportForm
    import_template = "admin/assignments/project/import.html"
    import_columns = IMPORT_COLUMNS

    def get_urls(self):
        return [*object_view_urls(self, "import"), *self.quality_urls(), *super().get_urls()]

    def import_view(self, request, object_id):
        """Upload a CSV or JSONL file → ``tasks_import`` (a new batch). On any invalid row the
        first problems are listed and nothing is written; on success, back to the project with
        the count and the time it took."""
        project = self.import_target(request, object_id)

        def run(c: dict) -> str:
            upload = c["file"]
            result = services.tasks_import(
                actor=request.user,
                project=project,
                data=upload_file(upload),
                file_format=c["format"],
                source=c.get("source", ""),
                note=c.get("note", ""),
                priority=c["priority"],
            )
            rate = result.created / result.seconds if result.seconds else 0
            # The new tasks may change what real tasks look like: check the controls again.
            check = control_services.project_control_check(actor=request.user, project=project)
            if check.report is not None and not (check.report.ok or check.overridden):
                self.message_user(
                    request,
                    f"Control tasks: {check.report.summary()}"
                    + (" The override was withdrawn." if check.override_dropped else ""),
                    messages.WARNING,
                )
            return (
                f"Imported {result.created} task(s) from {upload.name} as batch "
                f"{result.batch.pk} in {result.seconds:.1f} s ({rate:,.0f} rows/s)."
            )

        return self.file_import_page(
            request, obj=project, run=run, title=f"Import tasks into {project}"
        )


# -- batches ---------------------------------------------------------------------------------------


@admin.register(Batch)
class BatchAdmin(ProgressColumnsMixin, ReadOnlyAdmin):
    """Batches are made by imports; read-only here (deleting one would delete its tasks and the
    answers to them)."""

    list_display = (
        "id",
        "project",
        "source",
        "priority",
        "created_by",
        "created_at",
        *PROGRESS_COLUMNS,
    )
    list_filter = ("project",)
    search_fields = ("source", "note", "project__name", "project__slug")
    list_select_related = ("project", "created_by")
    date_hierarchy = "created_at"
    fields = ("project", "source", "note", "priority", "created_by", "created_at", "progress")
    readonly_fields = fields

    def get_queryset(self, request):
        return selectors.batch_progress_annotate(super().get_queryset(request))

    @admin.display(description="progress")
    def progress(self, obj: Batch) -> str:
        tasks = reverse("admin:assignments_task_changelist") + f"?batch={obj.pk}"
        return _progress_line(obj, tasks)


# -- tasks -----------------------------------------------------------------------------------------


class BatchFilter(admin.SimpleListFilter):
    """The batches of the project filtered on (else the latest ones): listing every batch of
    every project would be a long list and a query per batch name."""

    title = "batch"
    parameter_name = "batch"
    limit = 30

    def lookups(self, request, model_admin):
        batches = Batch.objects.order_by("-id")
        project = request.GET.get("project__id__exact")
        if project and project.isdigit():
            batches = batches.filter(project_id=int(project))
        return [
            (str(b.pk), f"#{b.pk} {b.source or ''}".strip())
            for b in batches.only("id", "source")[: self.limit]
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(batch_id=int(value))
        return queryset


class ControlFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return (("real", "Real tasks"), ("control", "Control tasks (gold)"))

    def queryset(self, request, queryset):
        match self.value():
            case "real":
                return queryset.filter(gold_item__isnull=True)
            case "control":
                return queryset.filter(gold_item__isnull=False)
        return queryset


class TaskForm(ServiceModelForm):
    """Only the priority is editable; ``task_set_priority`` writes it alone, so the counters
    the claim and submit services keep are never saved from this (possibly stale) copy."""

    class Meta:
        model = Task
        fields = ("priority",)


FINAL_ANSWER_CHARS = 40  # a final answer's rendering in the tasks list; whole on its page


@admin.register(Task)
class TaskAdmin(LargeTableMixin, NeverDeletedMixin, ServiceFormAdminMixin, admin.ModelAdmin):
    # Never deleted: deleting a task would delete its answers.
    form = TaskForm
    # Whether a task is open, its complexity and creation time are on its page (fits 1400 px).
    list_display = (
        "id",
        "project",
        "batch_number",
        "external_id",
        "state",
        "slots",
        "final",
        "decided_by",
        "agreement_share",
        "priority",
        "is_control",
    )
    list_filter = (
        "project",
        BatchFilter,
        "state",
        "decided_by",
        "is_open",
        "complexity",
        ControlFilter,
    )
    search_fields = ("=external_id",)
    list_select_related = ("project",)
    raw_id_fields = ("project", "batch", "gold_item")
    fields = (
        "project",
        "batch",
        "gold_item",
        *TASK_ROW_COLUMNS,
        "state",
        "target",
        "submitted",
        "is_open",
        "final_answer",
        "decided_by",
        "confidence",
        "agreement",
        "decided_at",
        "decision_history",
        "created_at",
    )
    readonly_fields = tuple(f for f in fields if f != "priority")

    def get_queryset(self, request):
        # The page's agreement: its submitted answers, and those equal to the final answer
        # (jsonb equality), counted by two sub-selects of the page's own query.
        submitted = Assignment.objects.filter(
            task_id=OuterRef("pk"), status=Assignment.Status.SUBMITTED
        ).order_by()

        def count(rows):
            counted = rows.values("task_id").annotate(c=Count("pk")).values("c")
            return Coalesce(Subquery(counted, output_field=IntegerField()), 0)

        return (
            super()
            .get_queryset(request)
            .annotate(
                answers_submitted=count(submitted),
                answers_agreeing=count(submitted.filter(answer=OuterRef("final_answer"))),
            )
        )

    @admin.display(description="final answer")
    def final(self, obj: Task) -> str:
        if obj.final_answer is None:
            return "—"
        text = json.dumps(obj.final_answer, ensure_ascii=False)
        return text if len(text) <= FINAL_ANSWER_CHARS else text[: FINAL_ANSWER_CHARS - 1] + "…"

    @admin.display(description="agreement")
    def agreement_share(self, obj: Task) -> str:
        """The share of the task's submitted answers equal to its final answer, now (a review
        may have changed the final answer since consensus stored its own agreement)."""
        if obj.final_answer is None or not obj.answers_submitted:
            return "—"
        share = obj.answers_agreeing / obj.answers_submitted
        return f"{obj.answers_agreeing}/{obj.answers_submitted} ({share:.0%})"

    @admin.display(description="decisions")
    def decision_history(self, obj: Task) -> str:
        """Every decision of the final answer, oldest first: consensus, each refit that changed
        it (with the fit's version and method), a senior's review."""
        rows = (
            TaskDecision.objects.filter(task_id=obj.pk)
            .select_related("reviewer")
            .order_by("decided_at", "id")
        )
        lines = format_html_join(
            "",
            "<li>{} — {} by {}{}{}</li>",
            (
                (
                    f"{d.decided_at:%Y-%m-%d %H:%M}",
                    json.dumps(d.final_answer, ensure_ascii=False),
                    d.get_decided_by_display().lower(),
                    f" (fit {d.fit_version}, {d.fit_method}, posterior {d.confidence:.3f})"
                    if d.fit_version
                    else "",
                    f", replacing {json.dumps(d.previous_answer, ensure_ascii=False)}"
                    if d.previous_answer is not None
                    else "",
                )
                for d in rows
            ),
        )
        return format_html("<ul>{}</ul>", lines) if lines else "—"

    empty_value_display = "—"

    @admin.display(description="batch", ordering="batch_id")
    def batch_number(self, obj: Task) -> str:
        return "—" if obj.batch_id is None else str(obj.batch_id)

    @admin.display(description="answers")
    def slots(self, obj: Task) -> str:
        return f"{obj.submitted} / {obj.target}" if obj.gold_item_id is None else "control"

    @admin.display(description="control", boolean=True)
    def is_control(self, obj: Task) -> bool:
        return obj.gold_item_id is not None

    def has_add_permission(self, request):
        return False  # tasks come from imports

    def save_model(self, request, obj, form, change):
        if "priority" in form.changed_data:
            self._call_service(
                services.task_set_priority,
                actor=request.user,
                task=obj,
                priority=form.cleaned_data["priority"],
            )

    def save_related(self, request, form, formsets, change):
        pass  # no relations are edited here


# -- assignments -----------------------------------------------------------------------------------


@admin.register(Assignment)
class AssignmentAdmin(AutocompleteFilterMixin, LargeTableMixin, ReadOnlyAdmin):
    """Leases and submissions: a record of work, read-only."""

    list_display = (
        "id",
        "person",
        "project",
        "task_id",
        "status",
        "is_control",
        "leased_at",
        "submitted_at",
    )
    # Labelers and projects are picked by autocomplete: thousands of labelers are never listed.
    list_filter = (
        "status",
        ("labeler", AutocompleteListFilter),
        ("project", AutocompleteListFilter),
        "is_control",
    )
    search_fields = (
        "labeler__public_code",
        "labeler__user__username",
        "labeler__user__first_name",
        "labeler__user__last_name",
        "=task__external_id",
    )
    list_select_related = ("project", "labeler__user")
    person = person_column()
    fields = (
        "project",
        "task",
        "person",
        "is_control",
        "status",
        "leased_at",
        "expires_at",
        "submitted_at",
        "answer",
        "active_seconds",
    )
    readonly_fields = fields
    related = ("project", "labeler__user", "task")


# -- reviews ---------------------------------------------------------------------------------------


class GuideVersionLinkForm(forms.Form):
    """The published guide version that answers the selected flags' proposed guide changes
    (the service refuses a version of another guide than the flag's project's)."""

    guide_version = forms.ModelChoiceField(
        queryset=GuideVersion.objects.filter(status=GuideVersion.Status.PUBLISHED)
        .select_related("guide")
        .order_by("guide__name", "-major", "-minor"),
        help_text="A published version of the guide of each selected flag's project.",
    )


class FlagAnswerForm(forms.Form):
    """An operations manager's answer to the selected flags, recorded as a senior's would be."""

    answer = forms.CharField(
        max_length=10_000,
        help_text='The final label (a class name), or JSON for labels or boxes: ["a", "b"].',
    )
    note = forms.CharField(
        max_length=review_services.MAX_NOTE_CHARS,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text="The answer the labeler reads (never the label above).",
    )
    proposes_guide_change = forms.BooleanField(required=False)

    def clean_answer(self):
        text = self.cleaned_data["answer"].strip()
        if text[:1] in "[{":
            try:
                return json.loads(text)
            except ValueError:
                raise ValidationError("Not valid JSON.") from None
        return text


@admin.register(Review)
class ReviewAdmin(ConfirmationActionsMixin, LargeTableMixin, ReadOnlyAdmin):
    """The review queue as a record: written by the review services (claim, resolve, flags,
    audits), read-only here. Two actions: answer flags as their reviewer — a flag on a control
    task, say, whose gold ops can see (``flag_answer_by_ops``; the labeler reads it as any
    answer) — and link resolved flags that propose a guide change to the published guide
    version that answers them (``flag_link_guide_version``)."""

    list_display = (
        "id",
        "kind",
        "status",
        "task_id",
        "project",
        "reviewer_column",
        "confidence",
        "for_ops",
        "created_at",
        "resolved_at",
    )
    list_filter = ("kind", "status", "project", "for_ops", "proposes_guide_change")
    search_fields = (
        "=task__external_id",
        "reviewer__public_code",
        "reviewer__user__first_name",
        "reviewer__user__last_name",
        "question",
        "note",
    )
    list_select_related = ("project", "reviewer__user")
    reviewer_column = person_column("reviewer", "reviewer")
    date_hierarchy = "created_at"
    # for_ops comes last: the API does not show it.
    fields = (*REVIEW_FIELDS, "for_ops")
    readonly_fields = fields
    related = ("project", "reviewer__user", "task")
    actions = ("answer_flag", "link_guide_version")
    reason_noun = "flag"
    reason_related = ("project",)

    def reason_line(self, review: Review) -> str:
        return f"{review} — {review.project.name}: {review.question[:80]}"

    def has_link_permission(self, request) -> bool:
        return request.user.has_perm("assignments.view_review") and request.user.is_staff

    has_answer_permission = has_link_permission

    answer_flag = reason_asking_action(
        "answer_flag",
        description="Answer selected flags (as their reviewer)",
        permissions=["answer"],
        form_class=FlagAnswerForm,
        apply=lambda request, review, c: review_services.flag_answer_by_ops(
            actor=request.user,
            review_id=review.pk,
            answer=c["answer"],
            note=c["note"],
            proposes_guide_change=c["proposes_guide_change"],
        ),
        verb="answer",
        past="Answered",
    )

    link_guide_version = reason_asking_action(
        "link_guide_version",
        description="Link selected flags to the guide version that answers them",
        permissions=["link"],
        form_class=GuideVersionLinkForm,
        apply=lambda request, review, c: review_services.flag_link_guide_version(
            actor=request.user, review_id=review.pk, guide_version_id=c["guide_version"].pk
        ),
        verb="link",
        past="Linked",
    )


# -- refits ----------------------------------------------------------------------------------------


@admin.register(ProjectRefit)
class ProjectRefitAdmin(ReadOnlyAdmin):
    """Each project's refit bookkeeping (``assignments.services.refits``): labels counted since
    its last refit, the refit running now, the last one's time and re-decided tasks. Written by
    the refit service only, read-only here; the setting is the project's ``refit_every``."""

    list_display = (
        "project",
        "labels_since",
        "refit_every",
        "running_since",
        "last_refit_at",
        "last_duration_ms",
        "last_redecided",
    )
    list_select_related = ("project",)
    search_fields = ("project__name", "project__slug")
    fields = list_display
    readonly_fields = fields
    ordering = ("project__name",)

    @admin.display(description="refit every (labels)", ordering="project__refit_every")
    def refit_every(self, obj: ProjectRefit) -> str:
        return str(obj.project.refit_every or "hourly only")


# -- the labeler's page ----------------------------------------------------------------------------


@labeler_panel("Recent assignments", order=20, wide=True)
def recent_assignments_panel(request, labeler):
    """The labeler's last 20 assignments, newest lease first, each linked (one query)."""
    rows = [
        (
            panel_link("assignments_assignment_change", a.pk, f"#{a.pk}"),
            a.project.name,
            panel_link("assignments_task_change", a.task_id, f"task {a.task_id}"),
            a.get_status_display(),
            panel_time(a.leased_at),
            panel_time(a.submitted_at),
        )
        for a in Assignment.objects.filter(labeler_id=labeler.pk)
        .select_related("project")
        .only("id", "task_id", "status", "leased_at", "submitted_at", "project__name")
        .order_by("-leased_at", "-id")[:PANEL_ROWS]
    ]
    return panel_table(
        ("assignment", "project", "task", "status", "leased", "submitted"),
        rows,
        empty="No assignments yet.",
        more_url=reverse("admin:assignments_assignment_changelist")
        + f"?labeler__id__exact={labeler.pk}",
    )


# Drift events (a module of its own; registered on import).
from assignments import admin_drift  # noqa: E402, F401
