"""The operations admin for pay: rates and what else a calculation reads (pay policies, bonus
tiers, vendor contracts, exchange rates), pay periods with their workflow, and the ledger.

Thin like the rest of the admin. Every write is a service of ``payments.services``: adding a
rate (``rate_create``) and ending one (``rate_end``; a rate's amount, currency and dates are
never edited, and rates are never deleted: calculated lines refer to them), setting a policy, a
contract or an exchange rate (``policy_set``, ``contract_set``, ``exchange_rate_set``), adding
a bonus tier, creating a period (``period_create``) and moving it on: "Calculate" queues the
calculation (``calculation_queue``, a Celery task; the period's page shows its progress and
refreshes itself while it runs), "Approve" and "Close" ask first on a confirmation page that
shows the period's totals per currency and its ledger hash, and take a reason. Approving passes
the hash shown as ``expected_hash``: what is approved is what was seen, or nothing (409). Each
step's page warns first of the periods its service will refuse, and why (``refusal``); a
period's page offers "Approve…" once the period has ended, and says when before.

Ledger lines, paid items, calculations, invoices and status changes are records: read-only,
whatever the user's model permissions, and the database refuses changes to a frozen period's
lines anyway. Operations see labelers' names here (vendors never do: their invoice shows public
codes). Money, rates and quantities are written as ``payments.currency`` writes them (at the
minor unit; rates and quantities without the stored scale), a line's ``detail`` in words, and
a frozen period's page links the adjustment lines of later periods that correct it.
"""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django import forms
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import AdminDateWidget
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.text import Truncator

from assignments.models import Project
from config.admin import (
    ConfirmationActionsMixin,
    LargeTableMixin,
    NeverDeletedMixin,
    ReadOnlyAdmin,
    ReasonForm,
    ServiceFormAdminMixin,
    ServiceModelForm,
    StatusHistoryInline,
    adopt,
    object_view_urls,
    person_label,
    reason_asking_action,
)
from payments import exports
from payments.currency import money_text, plain, rate_text
from payments.models import (
    BonusTier,
    Calculation,
    ExchangeRate,
    Invoice,
    LedgerLine,
    PaidItem,
    PayPeriod,
    PayPeriodStatusChange,
    PayPolicy,
    PayRate,
    VendorContract,
)
from payments.selectors import invoices, statements
from payments.services import calculate, deductions, periods, rates
from workforce.models import Labeler

P = PayPeriod.Status
FILE_FORMATS = ("csv", "xlsx", "pdf")  # an invoice's files
HASH_SHOWN = 12  # hex digits of a ledger hash shown in lists (the page shows all 64)

# -- money ----------------------------------------------------------------------------------------


def money(amount: Decimal, currency: str) -> str:
    """``1,520.40 EUR``: ``money_text`` (the amount at its currency's minor unit; line amounts
    are already rounded to it, so this only drops the stored scale) with thousands separators
    and the currency."""
    return f"{Decimal(money_text(amount, currency)):,f} {currency}"


def rate_money(rate: Decimal, currency: str) -> str:
    """``0.36 EUR``: a unit rate with its significant decimals (``rate_text``) and currency."""
    return f"{rate_text(rate, currency)} {currency}"


def totals_text(totals: dict[str, Decimal]) -> str:
    return "; ".join(money(amount, cur) for cur, amount in sorted(totals.items())) or "—"


def period_totals(period_ids: Iterable[int]) -> dict[int, dict[str, Decimal]]:
    """Each period's total per currency: the sum of its lines' amounts, in one GROUP BY
    query."""
    totals: dict[int, dict[str, Decimal]] = defaultdict(dict)
    rows = (
        LedgerLine.objects.filter(period_id__in=list(period_ids))
        .values_list("period_id", "currency")
        .annotate(total=Sum("amount"))
        .order_by("period_id", "currency")
    )
    for period_id, currency, total in rows:
        totals[period_id][currency] = total
    return totals


def period_days(period: PayPeriod) -> str:
    """``2026-11-01 to 2026-11-30 (Europe/Berlin)``: the period's first and last local days."""
    first, last = exports.period_days(period)
    return f"{first} to {last} ({period.timezone})"


period_end = periods.period_end_text


def refusal(step: str, period: PayPeriod, now) -> str | None:
    """Why the service of ``step`` (``approve``, ``close``, ``calculate``, ``deduct``) will
    refuse ``period`` as it stands at ``now``, or ``None``: the checks of ``period_approve``
    (calculated, ended), ``period_close`` (approved), ``calculation_queue`` and
    ``deduction_add`` (not frozen) that a confirmation page can make before it is sent. A
    warning only: the service decides when the step is sent."""
    label, status = period.label, period.get_status_display().lower()
    match step:
        case "approve" if period.status != P.CALCULATED:
            return (
                f"{label} will not be approved: only a calculated period can be, and it is "
                f"{status}."
            )
        case "approve" if period.ends_at > now:
            return (
                f"{label} will not be approved yet: it runs until {period_end(period)}, and work "
                "decided before then is still to be paid in it."
            )
        case "close" if period.status != P.APPROVED:
            return (
                f"{label} will not be closed: only an approved period can be, and it is {status}."
            )
        case "calculate" | "deduct" if period.is_frozen:
            done = "calculated" if step == "calculate" else "deducted from"
            return (
                f"{label} will not be {done}: it is {status}, so its ledger can no longer change."
            )
    return None


def attachment(content: bytes, content_type: str, file_name: str) -> HttpResponse:
    """A file the admin hands out (an invoice, a payroll)."""
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{file_name}"'
    return response


def short_hash(digest: str) -> str:
    return f"{digest[:HASH_SHOWN]}…" if digest else "—"


def _admin_link(obj, text=None) -> str:
    return _admin_link_id(type(obj), obj.pk, obj if text is None else text)


def _admin_link_id(model, pk: int | None, text=None) -> str:
    """A link to the admin page of ``model``'s row ``pk`` (``—`` for none)."""
    if pk is None:
        return "—"
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[pk])
    return format_html('<a href="{}">{}</a>', url, pk if text is None else text)


def _cut(text: str, shown: int) -> str:
    """``text`` cut to ``shown`` characters for a list's column, whole on hover (its title)."""
    if not text:
        return "—"
    return format_html('<span title="{}">{}</span>', text, Truncator(text).chars(shown))


def _changelist_url(model, **query) -> str:
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    return f"{url}?{urlencode(query)}" if query else url


def labeler_text(labeler) -> str:
    """A labeler as operations see them: name (or username) and public code."""
    return "—" if labeler is None else person_label(labeler)


# -- rates ----------------------------------------------------------------------------------------


class PayRateForm(ServiceModelForm):
    """Saved by ``rate_create``, which validates (scope and payee, ISO 4217 currency, no
    overlap with a rate of the same scope and family)."""

    class Meta:
        model = PayRate
        fields = (
            "project",
            "scope",
            "vendor",
            "labeler",
            "unit",
            "amount",
            "currency",
            "effective_from",
            "effective_to",
            "note",
        )


class EndRateForm(forms.Form):
    effective_to = forms.DateTimeField(
        label="Ends at",
        help_text="Exclusive, in the admin's time zone (YYYY-MM-DD HH:MM). Work earned from "
        "then on is paid at the next rate in effect, if any.",
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {"effective_to": timezone.localtime().replace(microsecond=0)})
        super().__init__(*args, **kwargs)


@admin.register(PayRate)
class PayRateAdmin(
    NeverDeletedMixin, ConfirmationActionsMixin, ServiceFormAdminMixin, admin.ModelAdmin
):
    # Never deleted and never edited: calculated lines name the rate they applied, and a rate
    # changed in place would rewrite what a period was paid. A new rate is added; an old one
    # is ended ("End selected rates").
    form = PayRateForm
    create_service = staticmethod(rates.rate_create)
    create_defaults = {"scope": PayRate.Scope.PROJECT}
    # One rate a row at 1400 px: the project's name cut short, the unit under the rate, the
    # time in effect to the minute.
    list_display = ("project_column", "payee", "rate", "in_effect", "created_by")
    list_filter = ("project", "scope", "unit", "currency", "effective_from")
    search_fields = (
        "project__name",
        "project__slug",
        "vendor__name",
        "labeler__public_code",
        "note",
    )
    list_select_related = ("project", "vendor", "labeler__user", "created_by")
    autocomplete_fields = ("project", "vendor", "labeler")
    date_hierarchy = "effective_from"
    # A rate's page: what the form asks, the amount with its currency as one rate.
    fields = (
        *("rate" if f == "amount" else f for f in PayRateForm.Meta.fields if f != "currency"),
        "created_by",
        "created_at",
    )
    actions = ("end",)
    PROJECT_SHOWN = 24  # characters of the project's name in the list (all of it on hover)

    @admin.display(description="project", ordering="project__name")
    def project_column(self, obj: PayRate) -> str:
        return _cut(obj.project.name, self.PROJECT_SHOWN)

    @admin.display(description="paid to", ordering="scope")
    def payee(self, obj: PayRate) -> str:
        """Whom the rate pays: its scope, and the labeler or vendor it names."""
        if obj.labeler_id:
            return labeler_text(obj.labeler)
        if obj.vendor_id:
            return f"{obj.vendor}'s labelers"
        return obj.get_scope_display()

    @admin.display(description="rate", ordering="amount")
    def rate(self, obj: PayRate) -> str:
        """The amount with its currency, over the unit it pays."""
        return format_html(
            '<span class="lf-nowrap">{}</span><br><small>{}</small>',
            rate_money(obj.amount, obj.currency),
            obj.get_unit_display().lower(),
        )

    @admin.display(description="in effect", ordering="effective_from")
    def in_effect(self, obj: PayRate) -> str:
        until = f"until {_minute(obj.effective_to)}" if obj.effective_to else "(current)"
        return format_html(
            '<span class="lf-nowrap">from {}</span><br><span class="lf-nowrap">{}</span>',
            _minute(obj.effective_from),
            until,
        )

    def get_fields(self, request, obj=None):
        return PayRateForm.Meta.fields if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.fields

    def has_change_permission(self, request, obj=None):
        return False

    def has_end_permission(self, request) -> bool:
        return request.user.has_perm("payments.change_payrate")

    reason_noun = "rate"
    reason_related = ("project", "vendor", "labeler__user")

    def reason_line(self, rate: PayRate) -> str:
        until = f" until {rate.effective_to:%Y-%m-%d %H:%M}" if rate.effective_to else ""
        since = f"{rate.effective_from:%Y-%m-%d %H:%M}"
        return f"{rate.project}: {rate} for {self.payee(rate)}, from {since}{until}"

    end = reason_asking_action(
        "end",
        description="End selected rates",
        permissions=["end"],
        form_class=EndRateForm,
        apply=lambda request, rate, c: rates.rate_end(
            actor=request.user, rate_id=rate.pk, effective_to=c["effective_to"]
        ),
        past="Ended",
    )


class PlainDecimalsForm(ServiceModelForm):
    """A row's form whose decimals show as people write them (``0.5``, ``1.085``), not at the
    column's stored scale (``0.5000``, ``1.0850000000``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, value in self.initial.items():
            if isinstance(value, Decimal):
                self.initial[name] = plain(value)


class SetServiceAdminMixin(NeverDeletedMixin, ServiceFormAdminMixin):
    """ModelAdmin mixin for a row written by one "set" service (create or replace) keyed by
    ``key_fields``: adding and changing both call ``set_service(actor=…, **key, **values)``;
    the key is fixed once the row exists. Never deleted: the calculation reads these rows,
    and removing one would silently change what open periods pay."""

    form = PlainDecimalsForm  # the service validates everything (and replaces a row it finds)
    set_service: staticmethod
    key_fields: tuple[str, ...]
    value_fields: tuple[str, ...]

    def get_fields(self, request, obj=None):
        return (*self.key_fields, *self.value_fields)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.key_fields

    def save_model(self, request, obj, form, change):
        c = form.cleaned_data
        key = {name: getattr(obj, name) if change else c[name] for name in self.key_fields}
        values = {name: c[name] for name in self.value_fields}
        adopt(obj, self._call_service(self.set_service, actor=request.user, **key, **values))


@admin.register(PayPolicy)
class PayPolicyAdmin(SetServiceAdminMixin, admin.ModelAdmin):
    set_service = staticmethod(rates.policy_set)
    key_fields = ("project",)
    value_fields = ("rejected_fraction", "clawback")
    list_display = ("project", "fraction_column", "clawback")
    list_filter = ("clawback",)
    search_fields = ("project__name", "project__slug")
    list_select_related = ("project",)
    autocomplete_fields = ("project",)

    @admin.display(description="rejected fraction", ordering="rejected_fraction")
    def fraction_column(self, obj: PayPolicy) -> str:
        return plain(obj.rejected_fraction)


@admin.register(VendorContract)
class VendorContractAdmin(SetServiceAdminMixin, admin.ModelAdmin):
    set_service = staticmethod(rates.contract_set)
    key_fields = ("vendor",)
    value_fields = ("fee_percent", "fee_per_label")
    list_display = ("vendor", "percent_column", "per_label_column")
    search_fields = ("vendor__name", "vendor__slug")
    list_select_related = ("vendor",)
    autocomplete_fields = ("vendor",)

    @admin.display(description="fee: % of earnings", ordering="fee_percent")
    def percent_column(self, obj: VendorContract) -> str:
        return f"{plain(obj.fee_percent)}%"

    @admin.display(description="fee per paid label", ordering="fee_per_label")
    def per_label_column(self, obj: VendorContract) -> str:
        code = obj.vendor.default_currency
        return f"{rate_text(obj.fee_per_label, code)} {code}"


@admin.register(ExchangeRate)
class ExchangeRateAdmin(SetServiceAdminMixin, admin.ModelAdmin):
    """For reports across currencies only: what is owed is never converted."""

    set_service = staticmethod(rates.exchange_rate_set)
    key_fields = ("base", "quote", "effective_from")
    value_fields = ("rate",)
    list_display = ("base", "quote", "rate_column", "effective_from")
    list_filter = ("base", "quote")
    search_fields = ("base", "quote")
    date_hierarchy = "effective_from"

    @admin.display(description="rate", ordering="rate")
    def rate_column(self, obj: ExchangeRate) -> str:
        return plain(obj.rate)


class BonusTierForm(ServiceModelForm):
    """Saved by ``bonus_tier_create``, which validates."""

    class Meta:
        model = BonusTier
        fields = ("project", "min_lower_bound", "min_checks", "percent")


@admin.register(BonusTier)
class BonusTierAdmin(NeverDeletedMixin, ServiceFormAdminMixin, admin.ModelAdmin):
    # Added through bonus_tier_create; never edited or deleted here (no service does it, and
    # the tiers decide what open periods pay).
    form = BonusTierForm
    create_service = staticmethod(rates.bonus_tier_create)
    list_display = ("project", "lower_bound_column", "min_checks", "percent_column")
    list_filter = ("project",)
    search_fields = ("project__name", "project__slug")
    list_select_related = ("project",)
    autocomplete_fields = ("project",)

    @admin.display(description="min lower bound", ordering="min_lower_bound")
    def lower_bound_column(self, obj: BonusTier) -> str:
        return plain(obj.min_lower_bound)

    @admin.display(description="bonus", ordering="percent")
    def percent_column(self, obj: BonusTier) -> str:
        return f"+{plain(obj.percent)}%"

    def get_fields(self, request, obj=None):
        return self.form.Meta.fields if obj is None else self.list_display

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.list_display

    def has_change_permission(self, request, obj=None):
        return False


# -- pay periods ----------------------------------------------------------------------------------


class PayPeriodAddForm(ServiceModelForm):
    """Saved by ``period_create``: the month (or ISO week) containing ``starts_on``, from local
    midnight in ``timezone``."""

    starts_on = forms.DateField(
        widget=AdminDateWidget,
        help_text="Any day of it: the period is the month, or the ISO week (from Monday), "
        "that contains this day.",
    )
    timezone = forms.ChoiceField(
        initial="UTC",
        help_text="Where the period's days begin and end at midnight.",
    )
    field_order = ("cadence", "starts_on", "timezone")

    class Meta:
        model = PayPeriod
        fields = ("cadence", "timezone")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = [(z, z) for z in sorted(zoneinfo.available_timezones())]


class PeriodReasonForm(ReasonForm):
    reason_help = "Recorded in each period's status history."


class ShownHashesInput(forms.HiddenInput):
    """The ``pk:hash`` pairs the page showed, posted back, with each hash shown in full."""

    def render(self, name, value, attrs=None, renderer=None):
        pairs = (value or "").split()
        return format_html(
            "{}{}",
            super().render(name, value, attrs, renderer),
            format_html_join(
                mark_safe("<br>"), "<code>{}</code>", ((p.partition(":")[2],) for p in pairs)
            ),
        )


class DeductionForm(forms.Form):
    """What ``deductions.deduction_add`` takes, the labeler found by public code or user name
    (a select of every labeler would not fit a large workforce)."""

    labeler = forms.CharField(max_length=150, help_text="Their public code or user name.")
    project = forms.ModelChoiceField(queryset=Project.objects.order_by("name"))
    amount = forms.DecimalField(
        max_digits=18,
        decimal_places=6,
        help_text="What is taken off their pay, more than 0, to the currency's minor unit.",
    )
    currency = forms.CharField(max_length=3, help_text="ISO 4217, e.g. EUR.")
    reason = forms.CharField(
        max_length=200, help_text="Shown to the labeler on their statement, and to their vendor."
    )

    def clean_labeler(self) -> Labeler:
        text = self.cleaned_data["labeler"].strip()
        labeler = Labeler.objects.filter(Q(public_code=text) | Q(user__username=text)).first()
        if labeler is None:
            raise forms.ValidationError("No labeler has this public code or user name.")
        return labeler

    def clean_currency(self) -> str:
        return self.cleaned_data["currency"].strip().upper()


class ApproveForm(PeriodReasonForm):
    """The reason, and the ledger hash of each period as the page showed it (``pk:hash``
    pairs): approving passes it as ``expected_hash``, so a period recalculated meanwhile is
    refused instead of approved unseen."""

    hashes = forms.CharField(
        label="Ledger hash approved",
        widget=ShownHashesInput,
        required=False,
        help_text="As shown above. If the ledger is recalculated to another hash before you "
        "approve, the period is not approved.",
    )

    def __init__(self, *args, shown: dict[int, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["hashes"].initial = " ".join(f"{pk}:{digest}" for pk, digest in shown.items())

    def clean_hashes(self) -> dict[int, str]:
        shown = {}
        for pair in self.cleaned_data["hashes"].split():
            pk, _, digest = pair.partition(":")
            if pk.isdigit():
                shown[int(pk)] = digest
        return shown


class PayPeriodStatusChangeInline(StatusHistoryInline):
    """The period's workflow: its time field is ``at``, and each step records the ledger hash
    it was taken on."""

    model = PayPeriodStatusChange
    fields = ("at", "from_status", "to_status", "actor", "reason", "ledger_hash")
    readonly_fields = fields
    ordering = ("-at", "-id")


class PayPeriodChangeList(ChangeList):
    """The periods' list, with each shown period's totals per currency from one query."""

    def get_results(self, request):
        super().get_results(request)
        shown = list(self.result_list)  # evaluated once here; the page reuses these rows
        totals = period_totals(p.pk for p in shown)
        for period in shown:
            period.totals = totals.get(period.pk, {})


def _counted(n: int, noun: str) -> str:
    """``1 line``, ``1,204 lines``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _ledger_size(lines: int, items: int | None) -> str:
    return f"{_counted(lines, 'line')}, {_counted(items or 0, 'paid item')}"


def _wrote_before(calculations):
    """``calculations`` each annotated ``wrote_before``: whether an earlier run of its period
    committed a batch, so that this run found a ledger to keep what had not changed of."""
    earlier = Calculation.objects.filter(
        period_id=OuterRef("period_id"), pk__lt=OuterRef("pk"), batches_done__gt=0
    )
    return calculations.annotate(wrote_before=Exists(earlier))


def _written_text(calc: Calculation) -> str:
    """What a run wrote (its ``lines`` and ``items``), said so that a recalculation does not read
    as a shrunken ledger: ``wrote 16 lines, 32 paid items`` when no earlier run of the period
    wrote anything, else ``rewrote 2 lines, 0 paid items (the rest unchanged)`` (a recalculation
    rewrites the projects whose work changed, and the bonus and fee lines). ``calc`` comes
    from ``_wrote_before``."""
    counts = _ledger_size(calc.lines, calc.items)
    return f"rewrote {counts} (the rest unchanged)" if calc.wrote_before else f"wrote {counts}"


def _progress_text(calc: Calculation | None) -> str:
    """The latest calculation (from ``_wrote_before``) in one line, and a progress bar while it
    runs; when done, the ledger's size now beside what the run wrote."""
    if calc is None:
        return "Not calculated yet."
    match calc.status:
        case Calculation.Status.QUEUED:
            return format_html("Queued at {}: waiting for a worker.", _when(calc.queued_at))
        case Calculation.Status.RUNNING:
            return format_html(
                '<progress value="{}" max="{}"></progress> Running: {} of {} projects; so far it '
                "{}.",
                calc.batches_done,
                calc.batches_total or 1,
                calc.batches_done,
                calc.batches_total,
                _written_text(calc),
            )
        case Calculation.Status.FAILED:
            return format_html(
                "Failed at {} after {} of {} projects: <strong>{}</strong>",
                _when(calc.finished_at),
                calc.batches_done,
                calc.batches_total,
                calc.error or "no error recorded",
            )
    took = (
        f" in {(calc.finished_at - calc.started_at).total_seconds():.1f} s"
        if calc.started_at and calc.finished_at
        else ""
    )
    size = LedgerLine.objects.filter(period_id=calc.period_id).aggregate(
        lines=Count("pk"), items=Sum("item_count")
    )
    return format_html(
        "Done at {}{}: {} project(s); {}; the ledger now holds {}; ledger hash <code>{}</code>.",
        _when(calc.finished_at),
        took,
        calc.batches_total,
        _written_text(calc),
        _ledger_size(size["lines"], size["items"]),
        short_hash(calc.ledger_hash),
    )


def _when(moment) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M:%S}" if moment else "—"


def _minute(moment) -> str:
    """``moment`` in the admin's time zone to the minute (a rate's start and end)."""
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}" if moment else "—"


@admin.register(PayPeriod)
class PayPeriodAdmin(
    NeverDeletedMixin, ConfirmationActionsMixin, ServiceFormAdminMixin, admin.ModelAdmin
):
    # Read-only once created: the workflow's steps are the actions (and the buttons on the
    # period's page), each calling its service. Never deleted: lines and invoices refer to it.
    create_service = staticmethod(periods.period_create)
    list_display = (
        "period",
        "status",
        "dates",
        "hash_column",
        "totals_column",
        "calculated_at",
    )
    list_filter = ("status", "cadence")
    search_fields = ("ledger_hash",)
    date_hierarchy = "starts_at"
    inlines = (PayPeriodStatusChangeInline,)
    actions = ("calculate", "approve", "close")
    record_fields = (
        "period",
        "status",
        "cadence",
        "timezone",
        "starts_at",
        "ends_at",
        "totals",
        "ledger_hash",
        "calculated_at",
        "calculation",
        "ledger",
        "invoices",
        "created_at",
    )
    # Seconds between reloads of a period's page while its calculation is queued or running.
    refresh_seconds = 3

    def get_changelist(self, request, **kwargs):
        return PayPeriodChangeList

    # -- columns and fields --

    @admin.display(description="period", ordering="starts_at")
    def period(self, obj: PayPeriod) -> str:
        return obj.label

    @admin.display(description="days", ordering="starts_at")
    def dates(self, obj: PayPeriod) -> str:
        return period_days(obj)

    @admin.display(description="ledger hash", ordering="ledger_hash")
    def hash_column(self, obj: PayPeriod) -> str:
        return short_hash(obj.ledger_hash)

    @admin.display(description="totals")
    def totals_column(self, obj: PayPeriod) -> str:
        # obj.totals is set by PayPeriodChangeList: one query for the page.
        return (
            format_html_join(
                mark_safe("<br>"), "{}", ((money(a, c),) for c, a in sorted(obj.totals.items()))
            )
            or "—"
        )

    @admin.display(description="totals")
    def totals(self, obj: PayPeriod) -> str:
        return totals_text(period_totals([obj.pk]).get(obj.pk, {}))

    @admin.display(description="latest calculation")
    def calculation(self, obj: PayPeriod) -> str:
        latest = _wrote_before(Calculation.objects.filter(period=obj)).first()
        return format_html(
            '{} <a href="{}">All calculations</a>',
            _progress_text(latest),
            _changelist_url(Calculation, period__id__exact=obj.pk),
        )

    @admin.display(description="ledger")
    def ledger(self, obj: PayPeriod) -> str:
        return format_html(
            '<a href="{}">Ledger lines</a> · <a href="{}">Paid items</a> · '
            '<a href="{}">Payroll of internal staff (CSV)</a> · <a href="{}">Cost report</a><br>'
            "A labeler's statement: follow their name in the ledger lines.",
            _changelist_url(LedgerLine, period__id__exact=obj.pk),
            _changelist_url(PaidItem, period__id__exact=obj.pk),
            reverse("admin:payments_payperiod_payroll", args=[obj.pk]),
            reverse("admin:payments_cost_report") + f"?period={obj.pk}",
        )

    @admin.display(description="corrected later by")
    def corrections(self, obj: PayPeriod) -> str:
        """The adjustment lines of later periods that correct what this period paid, counted
        per period, each count linked to the ledger lines list of those lines."""
        counts = list(
            LedgerLine.objects.filter(
                kind=LedgerLine.Kind.ADJUSTMENT,
                detail__corrects_period=obj.pk,
                period__starts_at__gte=obj.ends_at,
            )
            .values_list("period_id")
            .annotate(n=Count("pk"))
            .order_by("period__starts_at")
        )
        if not counts:
            return "No line of a later period corrects what it paid."
        labels = PayPeriod.objects.in_bulk([period_id for period_id, _ in counts])
        return format_html_join(
            "; ",
            '<a href="{}">{} adjustment line{} in {}</a>',
            (
                (
                    _changelist_url(LedgerLine, corrects=obj.pk, period__id__exact=period_id),
                    n,
                    "" if n == 1 else "s",
                    labels[period_id].label,
                )
                for period_id, n in counts
            ),
        )

    @admin.display(description="invoices")
    def invoices(self, obj: PayPeriod) -> str:
        issued = list(obj.invoices.select_related("vendor").order_by("vendor__name"))
        if not issued:
            return "None: invoices are issued when the period is approved."
        return format_html_join(
            mark_safe("<br>"),
            "{} — {}: {}",
            (
                (_admin_link(i, i.reference), i.vendor, totals_text(_decimal_totals(i)))
                for i in issued
            ),
        )

    # -- pages --

    def get_fields(self, request, obj=None):
        if obj is None:
            return PayPeriodAddForm.field_order
        if not obj.is_frozen:
            return self.record_fields
        # Only a frozen period's items are corrected by later lines (an open one is recalculated).
        at = self.record_fields.index("ledger") + 1
        return (*self.record_fields[:at], "corrections", *self.record_fields[at:])

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.get_fields(request, obj)

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = PayPeriodAddForm
        return super().get_form(request, obj, **kwargs)

    def get_inlines(self, request, obj):
        return () if obj is None else self.inlines

    def has_change_permission(self, request, obj=None):
        return False

    def _may_run(self, request) -> bool:
        return request.user.has_perm("payments.change_payperiod")

    has_calculate_permission = has_approve_permission = has_close_permission = _may_run
    has_deduct_permission = _may_run

    def change_view(self, request, object_id, form_url="", extra_context=None):
        context = dict(extra_context or {})
        period = (
            PayPeriod.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        )
        if period is not None:
            latest = Calculation.objects.filter(period=period).first()
            running = (Calculation.Status.QUEUED, Calculation.Status.RUNNING)
            if latest is not None and latest.status in running:
                context["refresh_seconds"] = self.refresh_seconds
            if self._may_run(request):
                context["period_steps"] = self._steps(period)
        return super().change_view(request, object_id, form_url, context)

    STEPS = (
        ("calculate", "Calculate", (P.OPEN, P.CALCULATED)),
        ("deduct", "Deduct…", (P.OPEN, P.CALCULATED)),
        ("approve", "Approve…", (P.CALCULATED,)),
        ("close", "Close…", (P.APPROVED,)),
    )

    def _steps(self, period: PayPeriod) -> list[dict[str, str]]:
        """The workflow buttons the period's page shows: the steps its status allows, except
        that a calculated period not ended yet shows when "Approve…" opens instead of it."""
        steps = []
        for name, label, statuses in self.STEPS:
            if period.status not in statuses:
                continue
            if name == "approve" and period.ends_at > timezone.now():
                steps.append({"note": f"{label} opens on {period_end(period)}"})
                continue
            url = reverse(f"admin:payments_payperiod_{name}", args=[period.pk])
            steps.append({"url": url, "label": label})
        return steps

    def get_urls(self):
        steps = object_view_urls(
            self, "calculate", "approve", "close", "deduct", "payroll", "statement"
        )
        return [*steps, *super().get_urls()]

    def statement_view(self, request, object_id):
        """A labeler's statement for the period (``?labeler=<id>``), as the labeler sees it:
        lines by project, totals per currency, the bonus tier reached and why, adjustments and
        pending work (``payments.selectors.statements.statement_for``), with their name."""
        period = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_view_permission(request, period):
            raise PermissionDenied
        labeler_id = request.GET.get("labeler", "")
        labeler = get_object_or_404(
            Labeler.objects.select_related("user", "vendor"),
            pk=int(labeler_id) if labeler_id.isdigit() else 0,
        )
        statement = statements.statement_for(labeler=labeler, period=period)
        title = f"Statement of {labeler_text(labeler)}"
        sections = [
            {
                "project": section.project,
                "pending": section.pending,
                "rows": [
                    (line.kind, line.basis or "—", *_figures(line), line.rule or "—")
                    for line in section.lines
                ],
            }
            for section in statement.projects
        ]
        context = {
            **self.admin_site.each_context(request),
            # The quality pages' frame (its breadcrumbs and table styles).
            "crumbs_opts": self.opts,
            "crumbs_object": period,
            "crumbs_title": title,
            "title": title,
            "labeler": labeler,
            "statement": statement,
            "sections": sections,
            "bonuses": [
                (
                    b.project,
                    b.n,
                    b.correct,
                    f"[{b.lower:.3f}, {b.upper:.3f}]",
                    f"+{plain(b.percent)}%",
                    money(b.base, b.currency),
                    money(b.amount, b.currency),
                )
                for b in statement.bonuses
            ],
            "adjustments": [
                (a.project, a.corrects_period, *_figures(a), a.rule) for a in statement.adjustments
            ],
            "totals": totals_text(statement.totals),
            "lines_url": _changelist_url(
                LedgerLine, period__id__exact=period.pk, labeler__id__exact=labeler.pk
            ),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/payments/payperiod/statement.html", context)

    def payroll_view(self, request, object_id):
        """The period's payroll of internal staff, as CSV (``payments.exports.payroll_csv``)."""
        period = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_view_permission(request, period):
            raise PermissionDenied
        content = exports.payroll_csv(actor=request.user, period_id=period.pk)
        return attachment(content, exports.CONTENT_TYPES["csv"], f"payroll-{period.label}.csv")

    def _object_step(self, request, object_id, name: str):
        """A period's page's button: the action ``name`` on that period alone (its confirmation
        page posts back here), then back to the period's page."""
        if not self._may_run(request):
            raise PermissionDenied
        queryset = self.get_queryset(request).filter(pk=object_id)
        get_object_or_404(queryset)
        response = getattr(self, name)(request, queryset)
        if response is not None:
            return response
        return HttpResponseRedirect(reverse("admin:payments_payperiod_change", args=[object_id]))

    def calculate_view(self, request, object_id):
        return self._object_step(request, object_id, "calculate")

    def approve_view(self, request, object_id):
        return self._object_step(request, object_id, "approve")

    def close_view(self, request, object_id):
        return self._object_step(request, object_id, "close")

    def deduct_view(self, request, object_id):
        return self._object_step(request, object_id, "deduct")

    # -- the workflow's actions --

    reason_noun = "period"

    def confirmation_page(self, request, *, action: str, object_pks: list[int], **kwargs):
        """The workflow's confirmation page (``ConfirmationActionsMixin.confirmation_page``),
        with a warning up front for each period the step will be refused for, saying why
        (``refusal``)."""
        response = super().confirmation_page(
            request, action=action, object_pks=object_pks, **kwargs
        )
        now = timezone.now()
        chosen = PayPeriod.objects.filter(pk__in=object_pks).order_by("starts_at")
        response.context_data["refusals"] = [
            why for period in chosen if (why := refusal(action, period, now))
        ]
        response.template_name = "admin/payments/payperiod/confirmation.html"
        return response

    def _confirm_line(self, period: PayPeriod, totals: dict[str, Decimal]) -> str:
        """A period on a confirmation page: its totals per currency and its full ledger hash."""
        return format_html(
            "<strong>{}</strong> ({}, {}): totals <strong>{}</strong>; ledger hash <code>{}</code>",
            period.label,
            period.get_status_display().lower(),
            period_days(period),
            totals_text(totals),
            period.ledger_hash or "(none yet)",
        )

    def _step(self, request, chosen: list, *, name, verb, past, intro, form_class, apply):
        totals = period_totals(p.pk for p in chosen)
        return self.reason_action(
            request,
            chosen,
            action=name,
            form_class=form_class,
            apply=apply,
            verb=verb,
            success=lambda n: f"{past} {n} period(s).",
            title=f"{verb.capitalize()} pay periods",
            intro=intro,
            line=lambda p: self._confirm_line(p, totals.get(p.pk, {})),
            describe=lambda p: p.label,
        )

    @admin.action(description="Calculate selected periods", permissions=["calculate"])
    def calculate(self, request, queryset):
        chosen = list(queryset.order_by("pk"))
        if request.POST.get("post") == "yes":
            self.apply_each(
                request,
                chosen,
                lambda p: calculate.calculation_queue(actor=request.user, period_id=p.pk),
                failed=lambda p, error: f"Could not calculate {p.label}: {error}",
                success=lambda n: (
                    f"Queued the calculation of {n} period(s): each period's "
                    "page shows its progress."
                ),
            )
            return None
        totals = period_totals(p.pk for p in chosen)
        return self.confirmation_page(
            request,
            action="calculate",
            title="Calculate pay periods",
            intro="Calculating writes each period's ledger from the work decided in it; "
            "recalculating an open or calculated period gives the same lines and hash unless "
            "work or rates changed. It runs in the background. Now:",
            lines=[self._confirm_line(p, totals.get(p.pk, {})) for p in chosen],
            object_pks=[p.pk for p in chosen],
            submit_label="Calculate",
        )

    @admin.action(description="Approve selected periods (issues invoices)", permissions=["approve"])
    def approve(self, request, queryset):
        chosen = list(queryset.order_by("pk"))
        shown = {p.pk: p.ledger_hash for p in chosen}
        return self._step(
            request,
            chosen,
            name="approve",
            verb="approve",
            past="Approved",
            intro="Approving freezes these ledgers as shown (totals and hash below) and issues "
            "one invoice per vendor with lines in the period. It cannot be undone.",
            form_class=lambda data=None: ApproveForm(data, shown=shown),
            apply=lambda p, c: periods.period_approve(
                actor=request.user,
                period_id=p.pk,
                reason=c["reason"],
                expected_hash=c["hashes"].get(p.pk) or "(not shown)",
            ),
        )

    @admin.action(description="Deduct from a labeler's pay", permissions=["deduct"])
    def deduct(self, request, queryset):
        """The period page's "Deduct…" button (not in the list's actions: one period at a
        time): ``deductions.deduction_add`` with the form's labeler, project, amount and
        reason."""
        chosen = list(queryset.order_by("pk"))
        totals = period_totals(p.pk for p in chosen)
        return self.reason_action(
            request,
            chosen,
            action="deduct",
            form_class=DeductionForm,
            apply=lambda p, c: deductions.deduction_add(
                actor=request.user,
                period_id=p.pk,
                labeler_id=c["labeler"].pk,
                project_id=c["project"].pk,
                amount=c["amount"],
                currency=c["currency"],
                reason=c["reason"],
            ),
            verb="deduct",
            success=lambda n: (
                "Deducted: the line is in the period's ledger, and a calculated "
                "period's hash follows it."
            ),
            title="Deduct from a labeler's pay",
            intro="A deduction is a line of its own in the period, with its reason, on the "
            "labeler's statement and their vendor's invoice; a recalculation keeps it. In:",
            line=lambda p: self._confirm_line(p, totals.get(p.pk, {})),
            describe=lambda p: p.label,
        )

    @admin.action(description="Close selected periods", permissions=["close"])
    def close(self, request, queryset):
        return self._step(
            request,
            list(queryset.order_by("pk")),
            name="close",
            verb="close",
            past="Closed",
            intro="Closing ends the periods' workflow; their ledgers and invoices stay as "
            "approved.",
            form_class=PeriodReasonForm,
            apply=lambda p, c: periods.period_close(
                actor=request.user, period_id=p.pk, reason=c["reason"]
            ),
        )


@admin.register(Calculation)
class CalculationAdmin(ReadOnlyAdmin):
    """Each run of a period's calculation (queued by the period's "Calculate"): its progress,
    result and error. Written by the calculation only."""

    # A run in one row at 1400 px: its status over the projects done, what it wrote in words.
    list_display = (
        "id",
        "period",
        "status_column",
        "written",
        "hash_column",
        "actor",
        "last_step",
    )
    list_filter = ("status", "period")
    search_fields = ("ledger_hash", "error")
    list_select_related = ("period", "actor")
    fields = (
        "period",
        "status",
        "progress",
        "written",
        "ledger_hash",
        "error",
        "actor",
        "queued_at",
        "started_at",
        "finished_at",
    )
    readonly_fields = fields
    related = ("period", "actor")

    def get_queryset(self, request):
        return _wrote_before(super().get_queryset(request))

    @admin.display(description="status", ordering="status")
    def status_column(self, obj: Calculation) -> str:
        return format_html(
            '{}<br><small class="lf-nowrap">{} projects done</small>',
            obj.get_status_display(),
            self.progress(obj),
        )

    @admin.display(description="written")
    def written(self, obj: Calculation) -> str:
        return _written_text(obj)

    @admin.display(description="last step at", ordering="queued_at")
    def last_step(self, obj: Calculation) -> str:
        """When it finished, or else started, or else was queued."""
        return _when(obj.finished_at or obj.started_at or obj.queued_at)

    @admin.display(description="projects done")
    def progress(self, obj: Calculation) -> str:
        return f"{obj.batches_done} of {obj.batches_total}"

    @admin.display(description="ledger hash", ordering="ledger_hash")
    def hash_column(self, obj: Calculation) -> str:
        return short_hash(obj.ledger_hash)


# -- the ledger -----------------------------------------------------------------------------------


def _figures(line) -> tuple[str, str, str]:
    """A line's (or a statement line's) quantity, unit rate and amount as text."""
    code = line.currency
    return plain(line.quantity), rate_text(line.unit_rate, code), money(line.amount, code)


def _corrected_item(item: PaidItem) -> str:
    """The item ``item`` corrects (``corrects`` and its period loaded with it), linked, with
    the period that paid it: ``item 6 (paid in 2026-W45)``."""
    if item.corrects_id is None:
        return "—"
    paid = item.corrects.period
    return format_html(
        '{} <span class="lf-nowrap">(paid in {})</span>',
        _admin_link_id(PaidItem, item.corrects_id, f"item {item.corrects_id}"),
        _admin_link(paid, paid.label),
    )


def _work_link(item: PaidItem) -> str:
    """The assignment or review a paid item pays for, linked to its admin page."""
    if item.review_id is not None:
        url = reverse("admin:assignments_review_change", args=[item.review_id])
        return format_html('<a href="{}">review {}</a>', url, item.review_id)
    url = reverse("admin:assignments_assignment_change", args=[item.assignment_id])
    return format_html('<a href="{}">assignment {}</a>', url, item.assignment_id)


class CorrectsFilter(admin.SimpleListFilter):
    """``?corrects=<period id>``: the adjustment lines that correct what that period paid (as
    a frozen period's page links them). Shown only while it filters: offering every frozen
    period would list years of weeks."""

    title = "period corrected"
    parameter_name = "corrects"

    def lookups(self, request, model_admin):
        value = self.value() or ""
        period = PayPeriod.objects.filter(pk=value).first() if value.isdigit() else None
        return [(str(period.pk), period.label)] if period else []

    def queryset(self, request, queryset):
        if not (self.value() or "").isdigit():
            return queryset
        return queryset.filter(
            kind=LedgerLine.Kind.ADJUSTMENT, detail__corrects_period=int(self.value())
        )


def _bonus_text(detail: dict, currency: str) -> str:
    """A bonus line's ``detail`` (what the calculation wrote: n, correct, the Wilson interval's
    bounds, the tier and its percent, the task earnings it is a percent of) in words."""
    return format_html(
        "{} of {} gold checks correct: accuracy between {} and {} (Wilson 95% interval), "
        "which reaches tier {}: {}% of task earnings of {}.",
        detail["correct"],
        detail["n"],
        f"{Decimal(detail['lower']):.3f}",
        f"{Decimal(detail['upper']):.3f}",
        _admin_link_id(BonusTier, detail["tier"], f"+{plain(Decimal(detail['percent']))}%"),
        plain(Decimal(detail["percent"])),
        money(Decimal(detail["base"]), currency),
    )


def _detail_text(line: LedgerLine) -> str:
    """What a line's ``detail`` says, in words: the period an adjustment corrects (linked), what
    a bonus rests on, who made a deduction."""
    detail = line.detail or {}
    if line.kind == LedgerLine.Kind.ADJUSTMENT and detail.get("corrects_period"):
        corrected = PayPeriod.objects.filter(pk=detail["corrects_period"]).first()
        if corrected is None:
            return f"Corrects period {detail['corrects_period']}."
        return format_html(
            "Corrects {}: what that period paid for the work below, whose verdict changed.",
            _admin_link(corrected, corrected.label),
        )
    if line.kind == LedgerLine.Kind.BONUS and {"n", "correct", "tier"} <= detail.keys():
        return _bonus_text(detail, line.currency)
    if line.kind == LedgerLine.Kind.DEDUCTION and detail.get("by"):
        return f"Deducted by {detail['by']}."
    return "; ".join(f"{key}: {value}" for key, value in sorted(detail.items())) or "—"


@admin.register(LedgerLine)
class LedgerLineAdmin(LargeTableMixin, ReadOnlyAdmin):
    """The ledger: written by the calculation only, read-only here (and in an approved or
    closed period the database refuses any change). A line's page lists the work it pays for,
    each piece linked to its assignment or review."""

    # A line in one row at 1400 px: the period only when the list shows more than one, the
    # project's name cut short, kind over basis, the amount over quantity times unit rate, the rule
    # cut short (each whole on hover).
    list_display = (
        "id",
        "period",
        "project_column",
        "payee",
        "kind_column",
        "amount_figures",
        "rule_column",
    )
    list_filter = ("period", "kind", "currency", "project", "vendor", CorrectsFilter)
    ordering = ("-period_id", "project_id", "labeler_id", "kind", "id")
    search_fields = ("labeler__public_code",)
    search_help_text = "A labeler's public code, e.g. L-7KQ4XM."
    related = ("period", "project", "labeler__user", "vendor")
    list_select_related = related
    fields = (
        "period",
        "project",
        "labeler_column",
        "vendor",
        "kind",
        "basis",
        "quantity_column",
        "unit_rate_column",
        "amount_column",
        "rate_link",
        "rule",
        "detail_column",
        "created_at",
        "paid_items",
    )
    readonly_fields = fields
    # Pieces of work listed on a line's page; the rest are one click away.
    ITEMS_SHOWN = 25
    RULE_SHOWN = 40  # characters of a line's rule in the list (all of it on hover)
    PROJECT_SHOWN = 24  # and of its project's name

    # -- columns: a line in one row at 1400 px --

    def get_list_display(self, request):
        # A list of one period's lines (as the period's page links it) says the period once,
        # in its filter, not on every row.
        if "period__id__exact" in request.GET:
            return tuple(c for c in self.list_display if c != "period")
        return self.list_display

    @admin.display(description="project", ordering="project__name")
    def project_column(self, obj: LedgerLine) -> str:
        return _cut(obj.project.name, self.PROJECT_SHOWN)

    @admin.display(description="amount", ordering="amount")
    def amount_figures(self, obj: LedgerLine) -> str:
        """The amount, over the quantity and the unit rate that make it."""
        quantity, unit_rate, amount = _figures(obj)
        return format_html(
            '{}<br><small class="lf-nowrap">{} &times; {}</small>', amount, quantity, unit_rate
        )

    @admin.display(description="paid to", ordering="labeler__public_code")
    def payee(self, obj: LedgerLine) -> str:
        """The labeler (name and public code: operations see names) and the vendor."""
        if obj.labeler_id is None:
            return format_html("{}<br><small>vendor fee</small>", obj.vendor)
        vendor = obj.vendor.name if obj.vendor_id else "internal"
        statement = reverse("admin:payments_payperiod_statement", args=[obj.period_id])
        return format_html(
            '<a class="lf-nowrap" href="{}?labeler={}" title="Statement">{}</a><br>'
            '<small><span class="lf-nowrap">{}</span> · {}</small>',
            statement,
            obj.labeler_id,
            obj.labeler.user.get_full_name() or obj.labeler.user.username,
            obj.labeler.public_code,
            vendor,
        )

    @admin.display(description="labeler")
    def labeler_column(self, obj: LedgerLine) -> str:
        return labeler_text(obj.labeler)

    @admin.display(description="kind", ordering="kind")
    def kind_column(self, obj: LedgerLine) -> str:
        if not obj.basis:
            return obj.get_kind_display()
        return format_html("{}<br><small>{}</small>", obj.get_kind_display(), obj.basis)

    @admin.display(description="quantity", ordering="quantity")
    def quantity_column(self, obj: LedgerLine) -> str:
        return plain(obj.quantity)

    @admin.display(description="unit rate", ordering="unit_rate")
    def unit_rate_column(self, obj: LedgerLine) -> str:
        return rate_money(obj.unit_rate, obj.currency)

    @admin.display(description="amount", ordering="amount")
    def amount_column(self, obj: LedgerLine) -> str:
        return money(obj.amount, obj.currency)

    @admin.display(description="rule")
    def rule_column(self, obj: LedgerLine) -> str:
        return _cut(obj.rule, self.RULE_SHOWN)

    @admin.display(description="detail")
    def detail_column(self, obj: LedgerLine) -> str:
        return _detail_text(obj)

    @admin.display(description="rate")
    def rate_link(self, obj: LedgerLine) -> str:
        return _admin_link(obj.rate) if obj.rate_id else "— (no rate: a bonus or a fee)"

    @admin.display(description="pays for")
    def paid_items(self, obj: LedgerLine) -> str:
        items = list(
            obj.items.order_by("earned_at", "id")
            .select_related("corrects__period")
            .only(
                "id",
                "kind",
                "assignment_id",
                "review_id",
                "basis",
                "unit_value",
                "earned_at",
                "corrects__period__starts_at",
                "corrects__period__cadence",
                "corrects__period__timezone",
            )[: self.ITEMS_SHOWN]
        )
        if not items:
            return "No piece of work: this line is computed from other lines."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    _admin_link_id(PaidItem, i.pk),
                    _work_link(i),
                    i.get_basis_display(),
                    rate_text(i.unit_value, obj.currency),
                    _when(i.earned_at),
                    _corrected_item(i),
                )
                for i in items
            ),
        )
        total = obj.items.count() if len(items) == self.ITEMS_SHOWN else len(items)
        return format_html(
            "<table><thead><tr><th>item</th><th>work</th><th>basis</th><th>worth</th>"
            "<th>earned at</th><th>corrects</th></tr></thead><tbody>{}</tbody></table>"
            '<p>{} of {} — <a href="{}">all paid items of this line</a></p>',
            rows,
            len(items),
            total,
            _changelist_url(PaidItem, line__id__exact=obj.pk),
        )


@admin.register(PaidItem)
class PaidItemAdmin(LargeTableMixin, ReadOnlyAdmin):
    """What each line pays for, piece by piece: read-only, each linked to its work."""

    # An item in one row at 1400 px: its work over kind and basis, its worth in the line's
    # currency, what it corrects with the period that paid that.
    list_display = ("id", "line_link", "period", "work", "worth", "earned", "corrects_link")
    list_filter = ("period", "kind", "basis")
    search_fields = ("line__labeler__public_code",)
    search_help_text = "A labeler's public code, e.g. L-7KQ4XM."
    related = ("period", "line", "corrects__period")
    list_select_related = related
    fields = (
        "line_link",
        "period",
        "kind",
        "basis",
        "work_link",
        "worth",
        "earned",
        "corrects_link",
    )
    readonly_fields = fields

    @admin.display(description="line", ordering="line_id")
    def line_link(self, obj: PaidItem) -> str:
        return _admin_link_id(LedgerLine, obj.line_id)

    @admin.display(description="work")
    def work(self, obj: PaidItem) -> str:
        """The work, over the item's kind and basis."""
        kind = obj.get_kind_display()
        said = f"{kind} · {obj.get_basis_display()}" if obj.basis else kind
        return format_html("{}<br><small>{}</small>", _work_link(obj), said)

    @admin.display(description="work")
    def work_link(self, obj: PaidItem) -> str:
        return _work_link(obj)

    @admin.display(description="worth", ordering="unit_value")
    def worth(self, obj: PaidItem) -> str:
        return rate_money(obj.unit_value, obj.line.currency)

    @admin.display(description="earned at", ordering="earned_at")
    def earned(self, obj: PaidItem) -> str:
        return _when(obj.earned_at)

    @admin.display(description="corrects", ordering="corrects_id")
    def corrects_link(self, obj: PaidItem) -> str:
        return _corrected_item(obj)


# -- invoices -------------------------------------------------------------------------------------


def _decimal_totals(invoice: Invoice) -> dict[str, Decimal]:
    return {currency: Decimal(amount) for currency, amount in invoice.totals.items()}


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    """Vendors' invoices, issued when a period is approved: read-only (the database refuses
    changes to them), with their files."""

    list_display = (
        "reference",
        "vendor",
        "period",
        "totals_column",
        "issued_at",
        "downloads",
    )
    list_filter = ("vendor", "period")
    search_fields = ("vendor__name", "vendor__slug")
    related = ("vendor", "period")
    list_select_related = related
    fields = (
        "reference",
        "vendor",
        "period",
        "number",
        "totals_column",
        "issued_at",
        "lines",
        "downloads",
    )
    readonly_fields = fields

    @admin.display(description="totals")
    def totals_column(self, obj: Invoice) -> str:
        return totals_text(_decimal_totals(obj))

    @admin.display(description="lines")
    def lines(self, obj: Invoice) -> str:
        return format_html(
            '<a href="{}">The vendor\'s ledger lines in {}</a>',
            _changelist_url(
                LedgerLine, period__id__exact=obj.period_id, vendor__id__exact=obj.vendor_id
            ),
            obj.period,
        )

    @admin.display(description="files")
    def downloads(self, obj: Invoice) -> str:
        url = reverse("admin:payments_invoice_download", args=[obj.pk])
        return format_html_join(
            " · ", '<a href="{}?format={}">{}</a>', ((url, f, f.upper()) for f in FILE_FORMATS)
        )

    def get_urls(self):
        return [*object_view_urls(self, "download"), *super().get_urls()]

    def download_view(self, request, object_id):
        """The invoice as a file, ``?format=csv|xlsx|pdf`` (CSV when unknown)."""
        invoice = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_view_permission(request, invoice):
            raise PermissionDenied
        file_format = request.GET.get("format", "csv")
        if file_format not in FILE_FORMATS:
            file_format = "csv"
        view = invoices.invoice_get_for(
            actor=request.user, vendor_id=invoice.vendor_id, invoice_id=invoice.pk
        )
        return attachment(*exports.invoice_file(view, file_format))


from payments import admin_reports  # noqa: E402,F401  (the cost report pages register here)
