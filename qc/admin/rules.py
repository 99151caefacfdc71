"""The operations admin for quality rules and what they did.

Rules are added and changed through ``qc.services.rules`` (``rule_create``, ``rule_update``,
which validate field by field); the "deactivate" action calls ``rule_deactivate``. The project
is a plain id here: qc sits below ``assignments`` and cannot check it (the API,
``POST /api/v1/quality-rules/``, does). Rule firings are read-only; the "reverse"
action asks for a reason on the shared confirmation page and calls
``rule_firing_reverse`` for each selected firing.

A new rule's test left blank is chosen by its action (``default_test``: sequential for pause,
suspend and revoke, the interval otherwise), as in the API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.db.models import Count, Q
from django.urls import reverse

from config.admin import (
    ConfirmationActionsMixin,
    NeverDeletedMixin,
    ReadOnlyAdmin,
    ReasonForm,
    ServiceFormAdminMixin,
    ServiceModelForm,
    adopt,
    annotation_column,
    person_column,
    person_label,
    reason_asking_action,
)
from qc.models import QualityRule, RuleFiring
from qc.services import rules as services
from workforce.admin import PANEL_ROWS, labeler_panel, panel_link, panel_table, panel_time
from workforce.selectors import is_ops

# -- projects by name --------------------------------------------------------------------------

# qc stores a project as its plain id and cannot import assignments (it sits below), so it
# cannot name a project itself. The assignments admin — above both — tells it how, once, at
# import (``use_project_names``): a resolver from ids to names, called once per page with every
# id the page shows. Until then (or for an id it does not know) a project is "project <id>".
# A resolver handed down keeps the dependency visible and one-way; looking the model up by
# name at run time (apps.get_model) would hide the same dependency from the layering test.
ProjectNames = Callable[[Iterable[int]], dict[int, str]]
ProjectChoices = Callable[[], list[tuple[int, str]]]
_project_names: list[ProjectNames] = []
_project_choices: list[ProjectChoices] = []


def use_project_names(resolver: ProjectNames, *, choices: ProjectChoices | None = None) -> None:
    """Name projects with ``resolver(ids) -> {id: name}`` (one query for all the ids); a new
    rule's project is picked by name from ``choices() -> [(id, name), …]`` when given."""
    _project_names[:] = [resolver]
    _project_choices[:] = [choices] if choices else []


def project_names(ids: Iterable[int]) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids or not _project_names:
        return {}
    return _project_names[0](ids)


def project_text(project_id: int | None, names: dict[int, str]) -> str:
    if project_id is None:
        return "all projects"
    return names.get(project_id) or f"project {project_id}"


class ProjectNamesChangeList(ChangeList):
    """A changelist whose rows carry ``project_name``: the names of the page's projects are
    looked up once, after the page's rows."""

    def get_results(self, request):
        super().get_results(request)
        names = project_names(obj.project_id for obj in self.result_list)
        for obj in self.result_list:
            obj.project_name = project_text(obj.project_id, names)


class ProjectFilter(admin.SimpleListFilter):
    """The projects the rows refer to, by name (two queries: the ids, then their names)."""

    title = "project"
    parameter_name = "project"

    def lookups(self, request, model_admin):
        ids = list(
            model_admin.model.objects.exclude(project_id=None)
            .order_by()
            .values_list("project_id", flat=True)
            .distinct()
        )
        names = project_names(ids)
        return sorted(((str(i), project_text(i, names)) for i in ids), key=lambda c: c[1])

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(project_id=int(value))
        return queryset


class ProjectNamesMixin:
    """ModelAdmin mixin for qc rows with a ``project_id``: a ``project`` column by name (one
    lookup per page) and a ``project_name`` field for the change page."""

    def get_changelist(self, request, **kwargs):
        return ProjectNamesChangeList

    @admin.display(description="project", ordering="project_id")
    def project(self, obj) -> str:
        name = getattr(obj, "project_name", None)
        return name if name is not None else self.project_name(obj)

    @admin.display(description="project")
    def project_name(self, obj) -> str:
        if obj is None or obj.pk is None:
            return "—"
        return project_text(obj.project_id, project_names([obj.project_id]))


RULE_FIELDS = ("project_id", *services.RULE_SETTINGS)
TEST_CHOICES = QualityRule.Test.choices


class QualityRuleForm(ServiceModelForm):
    """Saved by ``rule_create`` / ``rule_update``, which validate: no model validation or
    copying onto the instance here."""

    test = forms.ChoiceField(
        required=False,
        choices=[("", "By action (sequential to pause, suspend, revoke)"), *TEST_CHOICES],
        help_text="Sequential: false pauses at the stated alpha however often it is evaluated.",
    )

    class Meta:
        model = QualityRule
        fields = RULE_FIELDS
        help_texts = {"project_id": "The project's id (see the projects list)."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields.get("project_id")
        if field is not None and _project_choices:
            # Picked by name; the value is still the id, and must be one of the projects listed
            # (``clean_project_id``): the service cannot check it from below assignments.
            self._projects = dict(_project_choices[0]())
            field.widget = forms.Select(choices=[("", "---------"), *self._projects.items()])
            field.help_text = "The project whose labelers the rule watches."

    def clean_project_id(self):
        value = self.cleaned_data.get("project_id")
        projects = getattr(self, "_projects", None)
        unchanged = self.instance.pk is not None and value == self.instance.project_id
        if projects is not None and value is not None and not unchanged and value not in projects:
            raise forms.ValidationError("Choose one of the projects listed.")
        return value


class ReverseReasonForm(ReasonForm):
    reason_help = "Recorded on each selected rule firing."


@admin.register(QualityRule)
class QualityRuleAdmin(
    NeverDeletedMixin, ProjectNamesMixin, ServiceFormAdminMixin, admin.ModelAdmin
):
    # Never deleted: firings refer to a rule; it is turned off instead.
    form = QualityRuleForm
    list_display = (
        "name",
        "project",
        "metric",
        "condition",
        "window",
        "min_n",
        "action",
        "is_active",
        "open_firings",
    )
    list_filter = ("is_active", "test", "metric", "action", ProjectFilter)
    search_fields = ("name",)
    list_select_related = ("qualification_type",)
    autocomplete_fields = ("qualification_type", "lift_quiz")
    actions = ("deactivate",)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(_open=Count("firings", filter=Q(firings__status=RuleFiring.Status.OPEN)))
        )

    def get_fields(self, request, obj=None):
        if obj is None:
            return RULE_FIELDS
        return ("project_name", *RULE_FIELDS[1:], "created_by", "created_at")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("project_name", "created_by", "created_at")

    @admin.display(description="fires when")
    def condition(self, obj: QualityRule) -> str:
        if obj.test == QualityRule.Test.SEQUENTIAL:
            lift = "auto-lift" if obj.auto_lift else "ops lift"
            return (
                f"sequential: accuracy below {obj.threshold} (vs {obj.threshold - obj.delta}, "
                f"alpha {obj.alpha}; {lift})"
            )
        return f"{obj.get_bound_display().lower()} {obj.comparison} {obj.threshold}"

    open_firings = annotation_column("_open", "open firings")

    def save_model(self, request, obj, form, change):
        c = form.cleaned_data
        if change:
            data = {n: c[n] for n in form.changed_data if n in services.RULE_EDITABLE_FIELDS}
            if data.get("test") == "":
                data["test"] = services.default_test(c.get("action"))
            if data:
                self._call_service(services.rule_update, actor=request.user, rule=obj, data=data)
            return
        settings = {n: c.get(n) for n in services.RULE_SETTINGS}
        rule = self._call_service(
            services.rule_create,
            actor=request.user,
            project_id=c.get("project_id"),
            **{
                **settings,
                "name": c.get("name") or "",
                "test": c.get("test") or services.default_test(c.get("action")),
                "auto_lift": bool(c.get("auto_lift")),
                "is_active": bool(c.get("is_active")),
            },
        )
        adopt(obj, rule)

    @admin.action(description="Deactivate selected rules", permissions=["change"])
    def deactivate(self, request, queryset):
        done = 0
        for rule in queryset.order_by("pk"):
            services.rule_deactivate(actor=request.user, rule=rule)
            done += 1
        self.message_user(request, f"Deactivated {done} rule(s).", messages.SUCCESS)


@admin.register(RuleFiring)
class RuleFiringAdmin(ProjectNamesMixin, ConfirmationActionsMixin, ReadOnlyAdmin):
    """What the rules did: read-only; ops reverse a firing with a reason."""

    list_display = ("fired_at", "person", "project", "rule", "action", "status", "inputs_summary")
    list_filter = ("status", "action", ProjectFilter, "rule")
    search_fields = (
        "labeler__public_code",
        "labeler__user__username",
        "labeler__user__first_name",
        "labeler__user__last_name",
        "labeler__external_id",
        "rule__name",
    )
    list_select_related = ("rule", "labeler__user", "reversed_by")
    related = ("rule", "labeler__user", "reversed_by")
    date_hierarchy = "fired_at"
    person = person_column()
    fields = (
        "rule",
        "person",
        "project_name",
        "action",
        "status",
        "inputs_summary",
        "inputs",
        "fired_at",
        "cleared_at",
        "reversed_at",
        "reversed_by",
        "reverse_reason",
    )
    readonly_fields = fields
    actions = ("reverse",)

    @admin.display(description="interval")
    def inputs_summary(self, obj: RuleFiring) -> str:
        i = obj.inputs or {}
        try:
            if i.get("test") == QualityRule.Test.SEQUENTIAL:
                return (
                    f"{i['successes']}/{i['n']} = {i['rate']:.3f}; sequential score "
                    f"{i['score']} reached {i['boundary']} (threshold {i['threshold']}, delta "
                    f"{i['delta']}, alpha {i['alpha']})"
                )
            return (
                f"{i['successes']}/{i['n']} = {i['rate']:.3f}, Wilson 95% "
                f"[{i['lower']:.3f}, {i['upper']:.3f}]; {i['bound']} {i['comparison']} "
                f"{i['threshold']}"
            )
        except (KeyError, TypeError, ValueError):
            return "—"

    def has_reverse_permission(self, request) -> bool:
        return is_ops(request.user) and request.user.has_perm("qc.change_rulefiring")

    # Asks for a reason (required), then calls ``rule_firing_reverse`` for each selected firing
    # — one transaction each — and reports successes and failures.
    reason_form = ReverseReasonForm
    reason_noun = "rule firing"
    reason_related = ("rule", "labeler__user")

    def reason_line(self, firing: RuleFiring) -> str:
        return f"{self.reason_subject(firing)} — {firing.get_action_display().lower()}"

    def reason_subject(self, firing: RuleFiring) -> str:
        return f"{firing.rule.name} on {person_label(firing.labeler)}"

    reverse = reason_asking_action(
        "reverse",
        description="Reverse selected rule firings",
        permissions=["reverse"],
        apply=lambda request, firing, c: services.rule_firing_reverse(
            actor=request.user, firing_id=firing.pk, reason=c["reason"]
        ),
        past="Reversed",
    )


# -- the labeler's page --------------------------------------------------------------------------


@labeler_panel("Rule firings", order=10)
def rule_firings_panel(request, labeler):
    """The labeler's latest rule firings (two queries: the firings, their projects' names)."""
    firings = list(
        RuleFiring.objects.filter(labeler_id=labeler.pk)
        .select_related("rule")
        .order_by("-fired_at", "-id")[:PANEL_ROWS]
    )
    names = project_names(f.project_id for f in firings)
    rows = [
        (
            panel_link("qc_rulefiring_change", f.pk, panel_time(f.fired_at)),
            f.rule.name,
            project_text(f.project_id, names),
            f.get_action_display(),
            f.get_status_display(),
        )
        for f in firings
    ]
    return panel_table(
        ("fired", "rule", "project", "action", "status"),
        rows,
        empty="No rule has fired on this labeler.",
        more_url=reverse("admin:qc_rulefiring_changelist") + f"?q={labeler.public_code}",
    )
