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

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q

from config.admin import (
    ConfirmationActionsMixin,
    NeverDeletedMixin,
    ReadOnlyAdmin,
    ReasonForm,
    ServiceFormAdminMixin,
    ServiceModelForm,
    adopt,
    annotation_column,
    reason_asking_action,
)
from qc.models import QualityRule, RuleFiring
from qc.services import rules as services
from workforce.selectors import is_ops

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


class ReverseReasonForm(ReasonForm):
    reason_help = "Recorded on each selected rule firing."


@admin.register(QualityRule)
class QualityRuleAdmin(NeverDeletedMixin, ServiceFormAdminMixin, admin.ModelAdmin):
    # Never deleted: firings refer to a rule; it is turned off instead.
    form = QualityRuleForm
    list_display = (
        "name",
        "project_id",
        "metric",
        "condition",
        "window",
        "min_n",
        "action",
        "is_active",
        "open_firings",
    )
    list_filter = ("is_active", "test", "metric", "action", "project_id")
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
        return RULE_FIELDS if obj is None else (*RULE_FIELDS, "created_by", "created_at")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("project_id", "created_by", "created_at")

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
class RuleFiringAdmin(ConfirmationActionsMixin, ReadOnlyAdmin):
    """What the rules did: read-only; ops reverse a firing with a reason."""

    list_display = ("fired_at", "labeler", "rule", "action", "status", "inputs_summary")
    list_filter = ("status", "action", "project_id", "rule")
    search_fields = ("labeler__user__username", "labeler__external_id", "rule__name")
    list_select_related = ("rule", "labeler__user", "reversed_by")
    date_hierarchy = "fired_at"
    fields = (
        "rule",
        "labeler",
        "project_id",
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
        return f"{firing} — {firing.get_action_display().lower()}"

    reverse = reason_asking_action(
        "reverse",
        description="Reverse selected rule firings",
        permissions=["reverse"],
        apply=lambda request, firing, c: services.rule_firing_reverse(
            actor=request.user, firing_id=firing.pk, reason=c["reason"]
        ),
        past="Reversed",
    )
