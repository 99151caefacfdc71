"""Payments API v1: a labeler's earnings, a vendor's invoices and its labelers' statements, and
the pay periods with their workflow. Views parse input, call one selector or service and render.

Routes (under /api/v1/):

* ``GET me/earnings/`` — a labeler's own statements: approved and closed periods as frozen,
  periods under way as of the start of the day (like their scorecard, so that nothing moves
  right after a submit), and their pending work; nothing in it tells a control task from a real
  one. Anyone but a labeler: 403.
* ``GET vendors/{id}/invoices/`` and ``GET vendors/{id}/invoices/{invoice_id}/`` — ops and the
  vendor's managers (another vendor, or any vendor for a labeler: 404): the invoices, newest
  first; one with its lines by labeler public code (never a name), fees and totals — JSON, or
  with ``?format=csv|xlsx|pdf`` the invoice file (``payments.exports``) as an attachment.
* ``GET vendors/{id}/statements/?period={id}`` — ops and the vendor's managers: the vendor's
  labelers' earnings in a period, by public code, with the fees and totals per currency.
* ``GET pay-periods/`` and ``GET pay-periods/{id}/`` — operations managers: every period;
  vendor managers: approved and closed periods (a period still being calculated is not
  theirs to see: 404); labelers read their pay through ``me/earnings/`` (403 here). The detail
  adds the latest calculation and the status history (who acted: ops only).
* ``POST pay-periods/{id}/calculate/`` — ops: queue a calculation (a Celery task); 202 with the
  calculation's id and status, followed on the period's detail. A frozen period: 409
  ``period_frozen``.
* ``POST pay-periods/{id}/approve/`` ``{"reason", "expected_hash"?}`` — ops: calculated →
  approved, issuing the vendors' invoices (409 ``stale_hash`` when the ledger changed since the
  hash the caller confirmed; 409 ``invalid_transition`` from any other status).
* ``POST pay-periods/{id}/close/`` ``{"reason"}`` — ops: approved → closed.
* ``GET pay-periods/{id}/payroll/?format=csv`` — ops: the internal staff's payroll, a CSV.
* ``GET|POST pay-periods/{id}/deductions/`` ``{"labeler", "project", "amount", "currency",
  "reason"}`` — ops: a period's deductions; deduct an amount from a labeler's pay in an open or
  calculated period (201; 409 ``period_frozen`` otherwise). ``POST
  pay-periods/{id}/deductions/{line_id}/remove/`` ``{"reason"}`` — ops: remove one (204).

Money is a decimal string in every reply (``Money``), never a JSON number, which a client
would read as binary floating point and lose cents; amounts are written to their currency's
minor unit as the files write them (``MoneyRowOut``), and the schema says ``string`` for every
amount (tests/payments/test_api.py).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import HttpResponse
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import CursorPage, StrictSerializer, labeler_of, parse_input
from config.uploads import FileFormatNegotiation
from payments import exports
from payments.models import Calculation, Invoice, LedgerLine, PayPeriod, PayPeriodStatusChange
from payments.selectors import invoices as selectors
from payments.selectors import statements
from payments.services import calculate, deductions, periods
from workforce.permissions import OPS_ONLY, OPS_OR_VENDOR_MANAGER
from workforce.selectors import is_ops, vendor_get_for

BIGINT_MAX = 2**63 - 1
INVOICE_FORMATS = tuple(exports.CONTENT_TYPES)

# -- money -------------------------------------------------------------------------------------


class Money(serializers.DecimalField):
    """An amount of money, a rate or another exact figure (a quantity, a percent, a Wilson
    bound): a decimal string exactly as computed, never a JSON number."""

    def __init__(self, **kwargs) -> None:
        super().__init__(max_digits=None, decimal_places=None, coerce_to_string=True, **kwargs)


# -- pay periods -------------------------------------------------------------------------------


class CalculationOut(serializers.ModelSerializer):
    class Meta:
        model = Calculation
        fields = [
            "id",
            "period",
            "status",
            "batches_total",
            "batches_done",
            "lines",
            "items",
            "ledger_hash",
            "error",
            "queued_at",
            "started_at",
            "finished_at",
        ]


class PeriodOut(serializers.ModelSerializer):
    label = serializers.CharField(read_only=True, help_text="2026-11 (a month), 2026-W47 (a week).")

    class Meta:
        model = PayPeriod
        fields = [
            "id",
            "label",
            "cadence",
            "timezone",
            "starts_at",
            "ends_at",
            "status",
            "ledger_hash",
            "calculated_at",
        ]


class PeriodStatusChangeOut(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField(
        help_text="Who acted: ops see the username, others null."
    )

    class Meta:
        model = PayPeriodStatusChange
        fields = ["from_status", "to_status", "actor", "reason", "ledger_hash", "at"]

    def get_actor(self, obj: PayPeriodStatusChange) -> str | None:
        if obj.actor is None or not is_ops(self.context["request"].user):
            return None
        return obj.actor.get_username()


class PeriodDetailOut(PeriodOut):
    calculation = serializers.SerializerMethodField(help_text="The latest calculation, or null.")
    status_changes = serializers.SerializerMethodField(help_text="The workflow, newest first.")

    class Meta(PeriodOut.Meta):
        fields = [*PeriodOut.Meta.fields, "calculation", "status_changes"]

    @extend_schema_field(CalculationOut(allow_null=True))
    def get_calculation(self, obj: PayPeriod) -> dict[str, Any] | None:
        latest = obj.calculations.order_by("-queued_at", "-id").first()
        return None if latest is None else CalculationOut(latest).data

    @extend_schema_field(PeriodStatusChangeOut(many=True))
    def get_status_changes(self, obj: PayPeriod) -> list[dict[str, Any]]:
        changes = obj.status_changes.select_related("actor").order_by("-at", "-id")
        return PeriodStatusChangeOut(changes, many=True, context=self.context).data


class PeriodPage(CursorPage):
    ordering = "-starts_at"  # periods never share a start


class InvoicePage(CursorPage):
    ordering = "-number"  # numbers are unique per vendor


class PeriodListApi(generics.ListAPIView):
    """GET: the pay periods the caller may see, newest first (ops: all; vendor managers:
    approved and closed)."""

    permission_classes = OPS_OR_VENDOR_MANAGER
    pagination_class = PeriodPage
    serializer_class = PeriodOut
    queryset = PayPeriod.objects.none()  # for the schema; rows come from the selector

    def get_queryset(self):
        return selectors.pay_periods_list_for(actor=self.request.user)


class PeriodDetailApi(generics.RetrieveAPIView):
    """GET: one pay period with its latest calculation and its status history."""

    permission_classes = OPS_OR_VENDOR_MANAGER
    serializer_class = PeriodDetailOut
    queryset = PayPeriod.objects.none()

    def get_object(self):
        return selectors.pay_period_get_for(actor=self.request.user, period_id=self.kwargs["pk"])


class PeriodCalculateApi(APIView):
    """POST: queue a calculation of the period (ops). The answer is the queued calculation;
    its progress and result show on the period's detail."""

    permission_classes = OPS_ONLY

    @extend_schema(
        request=None,
        responses={
            202: CalculationOut,
            409: OpenApiResponse(description="period_frozen: the period is approved or closed"),
        },
    )
    def post(self, request, pk: int):
        selectors.pay_period_get_for(actor=request.user, period_id=pk)
        calculation = calculate.calculation_queue(actor=request.user, period_id=pk)
        return Response(CalculationOut(calculation).data, status=status.HTTP_202_ACCEPTED)


class PeriodReasonIn(StrictSerializer):
    reason = serializers.CharField(
        max_length=2_000, allow_blank=True, required=False, default="", help_text="Why; kept."
    )


class PeriodApproveIn(PeriodReasonIn):
    expected_hash = serializers.RegexField(
        r"^[0-9a-f]{64}$",
        required=False,
        help_text="The ledger hash the caller checked; a 409 stale_hash if it has changed.",
    )


class _PeriodStepApi(APIView):
    permission_classes = OPS_ONLY
    request_serializer: type[serializers.Serializer] = PeriodReasonIn

    def step(self, *, actor, period_id: int, data: dict) -> PayPeriod:
        raise NotImplementedError

    def post(self, request, pk: int):
        selectors.pay_period_get_for(actor=request.user, period_id=pk)
        data = parse_input(self.request_serializer, request.data)
        period = self.step(actor=request.user, period_id=pk, data=data)
        return Response(PeriodDetailOut(period, context={"request": request}).data)


_STEP_CONFLICTS = "invalid_transition: the period is not in the status this step starts from"


class PeriodApproveApi(_PeriodStepApi):
    """POST: calculated → approved (ops), issuing one invoice per vendor with lines."""

    request_serializer = PeriodApproveIn

    @extend_schema(
        request=PeriodApproveIn,
        responses={
            200: PeriodDetailOut,
            409: OpenApiResponse(
                description=f"{_STEP_CONFLICTS}; stale_hash: the ledger is not the one checked"
            ),
        },
    )
    def post(self, request, pk: int):
        return super().post(request, pk)

    def step(self, *, actor, period_id: int, data: dict) -> PayPeriod:
        return periods.period_approve(
            actor=actor,
            period_id=period_id,
            reason=data["reason"],
            expected_hash=data.get("expected_hash"),
        )


class PeriodCloseApi(_PeriodStepApi):
    """POST: approved → closed (ops)."""

    @extend_schema(
        request=PeriodReasonIn,
        responses={200: PeriodDetailOut, 409: OpenApiResponse(description=_STEP_CONFLICTS)},
    )
    def post(self, request, pk: int):
        return super().post(request, pk)

    def step(self, *, actor, period_id: int, data: dict) -> PayPeriod:
        return periods.period_close(actor=actor, period_id=period_id, reason=data["reason"])


# -- vendor invoices ---------------------------------------------------------------------------


class MoneyRowOut(serializers.Serializer):
    """A row in one ``currency``, written as the invoice files write it (``payments.exports``):
    its amounts to the currency's minor unit (``12.50`` EUR, ``1250`` JPY), its unit rate with
    its significant decimals (at least the minor unit's), its quantity without trailing zeros."""

    AMOUNTS = ("amount", "base")

    def to_representation(self, instance):
        data = super().to_representation(instance)
        code = data["currency"]
        for name in self.AMOUNTS:
            if name in data:
                data[name] = exports.money(Decimal(data[name]), code)
        if "unit_rate" in data:
            data["unit_rate"] = exports.rate_text(Decimal(data["unit_rate"]), code)
        if "quantity" in data:
            data["quantity"] = format(Decimal(data["quantity"]).normalize(), "f")
        return data


class PricedOut(MoneyRowOut):
    """``quantity`` units at ``unit_rate`` make ``amount`` (``selectors.invoices.PRICED``)."""

    quantity = Money(help_text="Units: labels, hours, reviews (a fee: what it is on).")
    unit_rate = Money()
    amount = Money()
    currency = serializers.CharField()


class TotalOut(MoneyRowOut):
    currency = serializers.CharField()
    amount = Money()


def totals_out(totals: dict) -> list[dict[str, Any]]:
    """Totals per currency (``{"EUR": Decimal or its text}``) as ``TotalOut`` rows, in currency
    order."""
    return TotalOut(
        [{"currency": code, "amount": Decimal(amount)} for code, amount in sorted(totals.items())],
        many=True,
    ).data


class InvoiceOut(serializers.ModelSerializer):
    reference = serializers.CharField(read_only=True, help_text="As printed, e.g. ACME-00003.")
    period_label = serializers.CharField(source="period.label", read_only=True)
    totals = serializers.SerializerMethodField(help_text="Per currency, frozen at issue.")

    class Meta:
        model = Invoice
        fields = [
            "id",
            "vendor",
            "number",
            "reference",
            "period",
            "period_label",
            "issued_at",
            "totals",
        ]

    @extend_schema_field(TotalOut(many=True))
    def get_totals(self, obj: Invoice) -> list[dict[str, Any]]:
        return totals_out(obj.totals)


class InvoiceLineOut(PricedOut):
    public_code = serializers.CharField(help_text="The labeler's public code, never a name.")
    project = serializers.IntegerField(source="project_id")
    project_name = serializers.CharField(source="project")
    kind = serializers.ChoiceField(choices=LedgerLine.Kind.choices)
    basis = serializers.ChoiceField(choices=LedgerLine.Basis.choices)


class FeeLineOut(PricedOut):
    project = serializers.IntegerField(source="project_id")
    project_name = serializers.CharField(source="project")
    rule = serializers.CharField()


class InvoiceDetailOut(serializers.Serializer):
    id = serializers.IntegerField(source="invoice.pk")
    vendor = serializers.IntegerField(source="vendor.pk")
    number = serializers.IntegerField(source="invoice.number")
    reference = serializers.CharField()
    period = serializers.IntegerField(source="period.pk")
    period_label = serializers.CharField(source="period.label")
    issued_at = serializers.DateTimeField(source="invoice.issued_at")
    ledger_hash = serializers.CharField(help_text="The period's ledger hash.")
    lines = InvoiceLineOut(many=True, help_text="The vendor's labelers' lines, by public code.")
    fees = FeeLineOut(many=True, help_text="The vendor's fee, per project and currency.")
    totals = serializers.SerializerMethodField(help_text="Per currency: the sum of the lines.")

    @extend_schema_field(TotalOut(many=True))
    def get_totals(self, obj) -> list[dict[str, Any]]:
        return totals_out(obj.totals)


class InvoiceListApi(generics.ListAPIView):
    """GET: a vendor's invoices, newest first (ops: any vendor's; a vendor manager: their
    vendors'; a vendor the caller does not manage: 404)."""

    serializer_class = InvoiceOut
    queryset = Invoice.objects.none()  # for the schema; rows come from the selector
    pagination_class = InvoicePage

    def get_queryset(self):
        return selectors.invoices_list_for(actor=self.request.user, vendor_id=self.kwargs["pk"])


def attachment(content: bytes, *, content_type: str, file_name: str) -> HttpResponse:
    """``content`` as the attachment ``file_name``: a whole file (an invoice, a payroll),
    small enough to be built in memory."""
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{file_name}"'
    return response


def _file_responses(formats) -> dict:
    """The schema's 200 answers of a file route: one media type per format (JSON: ``json``)."""
    return {
        (200, exports.CONTENT_TYPES[name].split(";")[0]): OpenApiTypes.BINARY for name in formats
    }


class InvoiceQuery(StrictSerializer):
    format = serializers.ChoiceField(
        choices=INVOICE_FORMATS, required=False, help_text="A file instead of JSON."
    )


class InvoiceDetailApi(APIView):
    """GET: one of a vendor's invoices (ops; the vendor's managers; anyone else: 404) with its
    lines by labeler public code, its fees and totals per currency — JSON, or with
    ``?format=csv|xlsx|pdf`` the invoice as that file (an attachment). ``?format=`` names the
    file here, not a renderer."""

    renderer_classes = (JSONRenderer,)
    content_negotiation_class = FileFormatNegotiation

    @extend_schema(
        parameters=[InvoiceQuery],
        responses={(200, "application/json"): InvoiceDetailOut, **_file_responses(INVOICE_FORMATS)},
    )
    def get(self, request, pk: int, invoice_id: int):
        view = selectors.invoice_get_for(actor=request.user, vendor_id=pk, invoice_id=invoice_id)
        file_format = parse_input(InvoiceQuery, request.query_params).get("format")
        if file_format is None:
            return Response(InvoiceDetailOut(view).data)
        content, content_type, file_name = exports.invoice_file(view, file_format)
        return attachment(content, content_type=content_type, file_name=file_name)


class PayrollQuery(StrictSerializer):
    format = serializers.ChoiceField(choices=["csv"], required=False, help_text="csv (default).")


class PeriodPayrollApi(APIView):
    """GET: the payroll of the period's internal staff, a CSV with their usernames and names
    (ops only)."""

    permission_classes = OPS_ONLY
    renderer_classes = (JSONRenderer,)
    content_negotiation_class = FileFormatNegotiation

    @extend_schema(parameters=[PayrollQuery], responses=_file_responses(["csv"]))
    def get(self, request, pk: int):
        parse_input(PayrollQuery, request.query_params)
        period = selectors.pay_period_get_for(actor=request.user, period_id=pk)
        content = exports.payroll_csv(actor=request.user, period_id=pk)
        return attachment(
            content,
            content_type=exports.CONTENT_TYPES["csv"],
            file_name=f"payroll-{period.label}.csv",
        )


# -- a labeler's earnings -----------------------------------------------------------------------


class StatementLineOut(PricedOut):
    kind = serializers.ChoiceField(choices=LedgerLine.Kind.choices)
    basis = serializers.ChoiceField(choices=LedgerLine.Basis.choices)
    rule = serializers.CharField(help_text="Which rule made the line (bonuses, adjustments).")


class ProjectSectionOut(serializers.Serializer):
    project = serializers.IntegerField(source="project_id")
    project_name = serializers.CharField(source="project")
    lines = StatementLineOut(many=True)
    totals = serializers.SerializerMethodField()
    pending = serializers.IntegerField(help_text="Labels submitted in the period, not yet earned.")

    @extend_schema_field(TotalOut(many=True))
    def get_totals(self, obj) -> list[dict[str, Any]]:
        return totals_out(obj.totals)


class BonusOut(MoneyRowOut):
    project = serializers.IntegerField(source="project_id")
    project_name = serializers.CharField(source="project")
    amount = Money()
    currency = serializers.CharField()
    percent = Money(help_text="Of the task earnings (base).")
    base = Money(help_text="The task earnings the percent is of.")
    n = serializers.IntegerField(help_text="Gold checks in the period.")
    correct = serializers.IntegerField()
    lower = Money(help_text="Wilson 95% lower bound of correct / n.")
    upper = Money(help_text="Wilson 95% upper bound.")
    tier = serializers.IntegerField(help_text="The bonus tier reached.")
    rule = serializers.CharField()


class AdjustmentOut(PricedOut):
    project = serializers.IntegerField(source="project_id")
    project_name = serializers.CharField(source="project")
    basis = serializers.ChoiceField(choices=LedgerLine.Basis.choices)
    unit_rate = Money(help_text="Per label: the value now minus the value paid.")
    rule = serializers.CharField(help_text="Why the verdict changed.")
    corrects_period = serializers.CharField(help_text="The period that paid what it corrects.")


class StatementOut(serializers.Serializer):
    period = serializers.IntegerField(source="period_id")
    period_label = serializers.CharField(source="period")
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=PayPeriod.Status.choices)
    final = serializers.BooleanField(help_text="Approved or closed: these figures are frozen.")
    as_of = serializers.DateTimeField(
        allow_null=True, help_text="Not final: the figures count what was earned before this."
    )
    projects = ProjectSectionOut(many=True)
    totals = serializers.SerializerMethodField()
    bonuses = BonusOut(many=True)
    adjustments = AdjustmentOut(many=True)
    pending = serializers.IntegerField()

    @extend_schema_field(TotalOut(many=True))
    def get_totals(self, obj) -> list[dict[str, Any]]:
        return totals_out(obj.totals)


class EarningsOut(serializers.Serializer):
    public_code = serializers.CharField(help_text="Your public code.")
    as_of = serializers.DateTimeField(help_text="The start of the day: later work is pending.")
    statements = StatementOut(many=True, help_text="Approved and closed periods, newest first.")
    current = StatementOut(many=True, help_text="Periods under way, as of the start of the day.")
    pending = serializers.IntegerField(help_text="All your submitted work not yet earned.")


class MeEarningsApi(APIView):
    """GET: the calling labeler's statements — approved and closed periods as frozen, periods
    under way as of the start of the day — and their pending work. Others: 403."""

    @extend_schema(responses=EarningsOut)
    def get(self, request):
        labeler = labeler_of(request)
        return Response(EarningsOut(statements.earnings_for(labeler=labeler)).data)


# -- a vendor's labelers' statements -------------------------------------------------------------


class VendorStatementsQuery(StrictSerializer):
    period = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX, help_text="A pay period.")


class KindTotalOut(TotalOut):
    kind = serializers.ChoiceField(choices=LedgerLine.Kind.choices)


class LabelerStatementOut(serializers.Serializer):
    public_code = serializers.CharField(help_text="The labeler's public code, never a name.")
    earnings = serializers.SerializerMethodField(help_text="Per kind of line and currency.")
    totals = serializers.SerializerMethodField()

    @extend_schema_field(KindTotalOut(many=True))
    def get_earnings(self, obj) -> list[dict[str, Any]]:
        rows = [
            {"kind": kind, "currency": code, "amount": amount}
            for kind, amounts in obj.by_kind.items()
            for code, amount in sorted(amounts.items())
        ]
        return KindTotalOut(rows, many=True).data

    @extend_schema_field(TotalOut(many=True))
    def get_totals(self, obj) -> list[dict[str, Any]]:
        return totals_out(obj.totals)


class VendorStatementsOut(serializers.Serializer):
    vendor = serializers.IntegerField(source="vendor.pk")
    period = serializers.IntegerField(source="period.pk")
    period_label = serializers.CharField(source="period.label")
    labelers = LabelerStatementOut(many=True)
    fees = serializers.SerializerMethodField(help_text="The vendor's fee, per currency.")
    totals = serializers.SerializerMethodField(help_text="Labelers and fees, per currency.")

    @extend_schema_field(TotalOut(many=True))
    def get_fees(self, obj) -> list[dict[str, Any]]:
        return totals_out(obj.fees)

    @extend_schema_field(TotalOut(many=True))
    def get_totals(self, obj) -> list[dict[str, Any]]:
        return totals_out(obj.totals)


class VendorStatementsApi(APIView):
    """GET ``?period=``: the vendor's labelers' earnings in a period, by public code (ops; the
    vendor's managers). A vendor or period the caller may not see: 404."""

    @extend_schema(parameters=[VendorStatementsQuery], responses=VendorStatementsOut)
    def get(self, request, pk: int):
        vendor_get_for(actor=request.user, pk=pk)  # a foreign vendor: 404 before a 400
        query = parse_input(VendorStatementsQuery, request.query_params)
        data = statements.vendor_statements_for(
            actor=request.user, vendor_id=pk, period_id=query["period"]
        )
        return Response(VendorStatementsOut(data).data)


# -- deductions --------------------------------------------------------------------------------


class DeductionIn(StrictSerializer):
    labeler = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX)
    project = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX)
    amount = serializers.DecimalField(
        max_digits=18,
        decimal_places=6,
        help_text="What is deducted, more than 0, as a decimal string in the currency's minor "
        "unit at most (JPY 0 decimals, EUR 2, KWD 3).",
    )
    currency = serializers.CharField(max_length=3, help_text="ISO 4217.")
    reason = serializers.CharField(max_length=200, help_text="Why; the labeler sees it.")


class DeductionOut(MoneyRowOut):
    id = serializers.IntegerField()
    period = serializers.IntegerField(source="period_id")
    labeler = serializers.CharField(source="labeler.public_code")
    project = serializers.IntegerField(source="project_id")
    amount = Money(help_text="Negative: what the line takes off.")
    currency = serializers.CharField()
    reason = serializers.CharField(source="rule")
    created_at = serializers.DateTimeField()


class DeductionRemoveIn(StrictSerializer):
    reason = serializers.CharField(max_length=2_000, help_text="Why the deduction goes; kept.")


_DEDUCTION_CONFLICTS = "period_frozen: the period is approved or closed"


class DeductionListApi(APIView):
    """GET: a period's deductions (ops). POST: deduct an amount from a labeler's pay in an open
    or calculated period, with the reason (``payments.services.deductions``); a calculated
    period's ledger hash follows."""

    permission_classes = OPS_ONLY

    @extend_schema(responses=DeductionOut(many=True))
    def get(self, request, pk: int):
        rows = selectors.deductions_list_for(actor=request.user, period_id=pk)
        return Response(DeductionOut(rows, many=True).data)

    @extend_schema(
        request=DeductionIn,
        responses={201: DeductionOut, 409: OpenApiResponse(description=_DEDUCTION_CONFLICTS)},
    )
    def post(self, request, pk: int):
        selectors.pay_period_get_for(actor=request.user, period_id=pk)
        data = parse_input(DeductionIn, request.data)
        line = deductions.deduction_add(
            actor=request.user,
            period_id=pk,
            labeler_id=data["labeler"],
            project_id=data["project"],
            amount=data["amount"],
            currency=data["currency"],
            reason=data["reason"],
        )
        line = selectors.deductions_list_for(actor=request.user, period_id=pk).get(pk=line.pk)
        return Response(DeductionOut(line).data, status=status.HTTP_201_CREATED)


class DeductionRemoveApi(APIView):
    """POST: remove a deduction made in error from an open or calculated period (ops)."""

    permission_classes = OPS_ONLY

    @extend_schema(
        request=DeductionRemoveIn,
        responses={204: None, 409: OpenApiResponse(description=_DEDUCTION_CONFLICTS)},
    )
    def post(self, request, pk: int, line_id: int):
        selectors.pay_period_get_for(actor=request.user, period_id=pk)
        data = parse_input(DeductionRemoveIn, request.data)
        deductions.deduction_remove(
            actor=request.user, period_id=pk, line_id=line_id, reason=data["reason"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path("pay-periods/", PeriodListApi.as_view(), name="pay-period-list"),
    path("pay-periods/<id:pk>/", PeriodDetailApi.as_view(), name="pay-period-detail"),
    path(
        "pay-periods/<id:pk>/calculate/", PeriodCalculateApi.as_view(), name="pay-period-calculate"
    ),
    path("pay-periods/<id:pk>/approve/", PeriodApproveApi.as_view(), name="pay-period-approve"),
    path("pay-periods/<id:pk>/close/", PeriodCloseApi.as_view(), name="pay-period-close"),
    path("vendors/<id:pk>/invoices/", InvoiceListApi.as_view(), name="vendor-invoice-list"),
    path("vendors/<id:pk>/statements/", VendorStatementsApi.as_view(), name="vendor-statements"),
    path(
        "vendors/<id:pk>/invoices/<id:invoice_id>/",
        InvoiceDetailApi.as_view(),
        name="vendor-invoice-detail",
    ),
    path("pay-periods/<id:pk>/payroll/", PeriodPayrollApi.as_view(), name="pay-period-payroll"),
    path(
        "pay-periods/<id:pk>/deductions/",
        DeductionListApi.as_view(),
        name="pay-period-deduction-list",
    ),
    path(
        "pay-periods/<id:pk>/deductions/<id:line_id>/remove/",
        DeductionRemoveApi.as_view(),
        name="pay-period-deduction-remove",
    ),
    path("me/earnings/", MeEarningsApi.as_view(), name="me-earnings"),
]
