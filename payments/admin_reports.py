"""The cost report and the vendor SLA card in the operations admin, rendered on the server with
inline SVG charts (``qc.charts``, as the quality pages draw them: no script, no asset from
elsewhere).

Two plain admin views, not model pages, so they need no model and no migration. Importing this
module adds their URLs in front of the admin site's own (``admin.site.get_urls`` is wrapped
once); ``payments.admin`` imports it at its end. URL names (namespace ``admin``):

* ``payments_cost_report`` — ``payments/reports/costs/`` with ``?period=<id>``,
  ``group_by=project|batch|vendor`` and ``currency=<ISO 4217>`` (a reporting currency: a
  converted total beside the amounts per currency);
* ``payments_vendor_sla`` — ``payments/reports/vendor-sla/`` with ``?period=<id>&vendor=<id>``.

Without a ``period`` they show the latest period. Operations managers only: active staff with
``payments.view_payperiod``; anyone else gets the admin's refusal (the login page, or 403 for
staff without the permission). The figures come from ``payments.selectors.costs``; each page
costs a constant number of queries, whatever the number of groups, labelers or assignments.
"""

from __future__ import annotations

from bisect import bisect_right
from decimal import ROUND_HALF_UP, Decimal
from itertools import accumulate
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe

from assignments.admin_quality_pages import duration_text, rate_text
from payments.currency import minor_unit, money_text, plain
from payments.models import ExchangeRate, PayPeriod
from payments.selectors import costs
from qc import charts
from workforce.models import Vendor
from workforce.selectors import is_ops

TEMPLATES = "payments/costs/"
PERMISSION = "payments.view_payperiod"
GROUP_CHOICES = (("project", "Project"), ("batch", "Batch"), ("vendor", "Vendor"))
CHART_COMPONENTS = (*costs.WORK_COMPONENTS, "bonus", "vendor_fee")  # drawn: never negative
# Decimals a cost per label shows beyond its currency's minor unit: labels cost fractions of a
# cent, and one fixed number keeps a column's figures aligned ("0.2913", "0.2720").
PER_LABEL_PLACES = 2
PER_LABEL_RULE = (
    "Cost per accepted label to two decimals below the currency's minor unit (0.2913 EUR, "
    "24.1875 INR, 12.35 JPY), rounded half away from zero; other amounts to the minor unit."
)
# qc.charts' stacked bars leave their labels 104 px (110 px less a 6 px gap) at 11 px: 9.45 em.
# A label is cut to 8.1 em of text and an ellipsis (1 em), a margin for wider fonts.
CHART_LABEL_EM = 810  # hundredths of an em


# -- formatting ----------------------------------------------------------------------------------


def money(amount: Decimal | None, code: str, *, with_code: bool = True) -> str:
    """An amount rounded to the minor unit of its currency, with the code unless a heading
    names it; "—" when None."""
    if amount is None:
        return "—"
    return f"{money_text(amount, code)} {code}" if with_code else money_text(amount, code)


def per_label(amount: Decimal | None, code: str, *, with_code: bool = True) -> str:
    """A cost per label to exactly ``PER_LABEL_PLACES`` decimals beyond the minor unit of
    ``code``, rounded half away from zero (as money): "0.2913 EUR", "0.2720 EUR", "12.35 JPY";
    "—" when None (no accepted labels). Rounded from the selector's six-decimal figure: no
    minor unit has more than four decimals, so six always hold the ones shown."""
    if amount is None:
        return "—"
    places = Decimal(1).scaleb(-(minor_unit(code) + PER_LABEL_PLACES))
    text = format(amount.quantize(places, rounding=ROUND_HALF_UP), "f")
    return f"{text} {code}" if with_code else text


def _em(char: str) -> int:
    """A character's advance width in hundredths of an em, on the wide side of the browsers'
    sans-serif."""
    if char in "fijlrtI.,:;'!|()[]·/- ":
        return 33
    if char in "mwMW@%":
        return 95
    if char.isupper():
        return 75
    return 58 if char.isascii() else 100


def chart_label(name: str) -> str:
    """``name`` as it fits the label area of a stacked bar chart: whole when it fits, else cut
    and ended with "…" (the table above the chart names it in full)."""
    widths = list(accumulate(map(_em, name)))
    if not widths or widths[-1] <= CHART_LABEL_EM + 100:
        return name
    return name[: bisect_right(widths, CHART_LABEL_EM)].rstrip(" ,·(-") + "…"


def _svg(markup: str) -> SafeString:
    # qc.charts escapes every piece of text it draws: its output is safe markup.
    return mark_safe(markup)  # noqa: S308


def _url(name: str, *args: Any, query: dict[str, Any] | None = None) -> str | None:
    try:
        url = reverse(f"admin:{name}", args=args)
    except NoReverseMatch:  # payments' own admin pages are not registered (yet)
        return None
    return f"{url}?{urlencode(query)}" if query else url


def _unit_name(code: str) -> str:
    places = minor_unit(code)
    return code if places == 0 else f"1/{10**places} {code}"


def split_chart(rows: list[tuple[str, dict[str, Decimal]]], code: str, *, title: str) -> SafeString:
    """A stacked bar per ``(label, components)``: the share of each component of its cost,
    in whole minor units of ``code`` (deductions are not drawn); labels cut to fit."""
    return _svg(
        charts.stacked_bar_chart(
            [
                (
                    chart_label(label),
                    [
                        (costs.COMPONENT_NAMES[name], costs.minor_units(figures[name], code))
                        for name in CHART_COMPONENTS
                        if figures[name] > 0
                    ],
                )
                for label, figures in rows
            ],
            classes=[costs.COMPONENT_NAMES[name] for name in CHART_COMPONENTS],
            title=f"{title} ({code}; amounts in the tooltips in {_unit_name(code)})",
        )
    )


# -- filters -------------------------------------------------------------------------------------


def _period_choices() -> tuple[list[tuple[str, str]], dict[int, PayPeriod]]:
    periods = list(PayPeriod.objects.order_by("-starts_at"))
    return [(str(p.pk), f"{p.label} ({p.get_status_display().lower()})") for p in periods], {
        p.pk: p for p in periods
    }


class CostReportFilter(forms.Form):
    period = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    group_by = forms.ChoiceField(choices=GROUP_CHOICES, required=False, label="Group by")
    currency = forms.ChoiceField(required=False, label="Reporting currency")

    def __init__(self, *args, periods: list, currencies: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["period"].choices = periods
        self.fields["currency"].choices = [("", "none")] + [(c, c) for c in currencies]


class VendorSlaFilter(forms.Form):
    period = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    vendor = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)

    def __init__(self, *args, periods: list, vendors: list[Vendor], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["period"].choices = periods
        self.fields["vendor"].choices = [(str(v.pk), v.name) for v in vendors]


def _cleaned(form: forms.Form, name: str, default: Any = None) -> Any:
    if form.is_bound and form.is_valid():
        return form.cleaned_data.get(name) or default
    return default


# -- the views -----------------------------------------------------------------------------------


def _require_ops(request) -> None:
    if not (is_ops(request.user) and request.user.has_perm(PERMISSION)):
        raise PermissionDenied


def _render(request, template: str, context: dict[str, Any]) -> TemplateResponse:
    request.current_app = admin.site.name
    return TemplateResponse(
        request,
        TEMPLATES + template,
        {
            **admin.site.each_context(request),
            "periods_url": _url("payments_payperiod_changelist"),
            "app_url": _url("app_list", "payments"),
            **context,
        },
    )


def cost_report_view(request):
    """The cost report of a period: per group and currency, the cost split and its total, the
    cost per accepted label and the quality it bought; a stacked bar chart of the split."""
    _require_ops(request)
    periods, by_id = _period_choices()
    # The reporting currencies offered: those the exchange-rate table knows.
    pairs = ExchangeRate.objects.values_list("base", "quote").distinct()
    currencies = sorted({code for pair in pairs for code in pair})
    asked = CostReportFilter(request.GET or None, periods=periods, currencies=currencies)
    period = by_id.get(_cleaned(asked, "period")) or next(iter(by_id.values()), None)
    group_by = _cleaned(asked, "group_by", "project")
    currency = _cleaned(asked, "currency") or None
    # The form shows what the page shows, so pressing Show never changes the figures.
    form = CostReportFilter(
        {"period": period.pk if period else "", "group_by": group_by, "currency": currency or ""},
        periods=periods,
        currencies=currencies,
    )
    context: dict[str, Any] = {
        "title": "Cost report",
        "form": form,
        "filter_errors": asked.errors if asked.is_bound else {},
        "period": period,
        "group_by_name": dict(GROUP_CHOICES)[group_by].lower(),
    }
    if period is not None:
        report = costs.cost_report(period=period, group_by=group_by, reporting_currency=currency)
        context.update(_report_context(report, currency))
    return _render(request, "report.html", context)


def _bar_name(group: dict[str, Any], *, one_project: bool) -> str:
    """What a group's bar is called: its name, less the project's when every bar is of the same
    project's batches (a label area that short would show only the project's name)."""
    if one_project and " · " in group["name"]:
        return group["name"].split(" · ", 1)[1]
    return group["name"]


def _report_context(report: dict[str, Any], currency: str | None) -> dict[str, Any]:
    groups, totals = report["groups"], report["totals"]
    codes = list(totals["currencies"])
    names = [costs.COMPONENT_NAMES[c] for c in costs.COMPONENTS]
    one_project = report["group_by"] == "batch" and len({g["project_id"] for g in groups}) == 1
    tables = []
    for code in codes:
        # The currency's groups, and its "All": their sums and their accepted labels only.
        in_code = [g for g in groups if code in g["currencies"]]
        rows = [(g["name"], g["accepted_labels"], g["currencies"][code]) for g in in_code]
        all_figures = totals["currencies"][code]
        rows.append(("All", all_figures["accepted_labels"], all_figures))
        tables.append(
            {
                "currency": code,
                "rows": [
                    {
                        "name": name,
                        "is_total": i == len(rows) - 1,
                        "accepted": accepted,
                        # The table's heading names the currency: a bare figure per cell.
                        "amounts": [
                            money(figures[c], code, with_code=False) for c in costs.COMPONENTS
                        ],
                        "total": money(figures["total"], code, with_code=False),
                        "per_label": per_label(
                            figures["per_accepted_label"], code, with_code=False
                        ),
                    }
                    for i, (name, accepted, figures) in enumerate(rows)
                ],
                "chart": split_chart(
                    [
                        (_bar_name(g, one_project=one_project), g["currencies"][code])
                        for g in in_code
                    ],
                    code,
                    title="Cost split per group",
                ),
            }
        )
    quality = [
        {
            "name": g["name"],
            "accepted": g["accepted_labels"],
            "gold": rate_text(g["quality"]["gold_accuracy"]),
            "with_final": rate_text(g["quality"]["with_final"]),
            "pairwise": rate_text(g["quality"]["pairwise"]),
            "converted": _converted_text(g["converted"]),
        }
        for g in groups
    ]
    rates = [
        {
            "code": code,
            "text": "no rate on or before this date — converted figures unavailable"
            if r is None
            else f"1 {code} = {r['rate'].normalize():f} {currency}"
            + (f" (from {r['effective_from']:%Y-%m-%d})" if r["effective_from"] else ""),
        }
        for code, r in sorted((report["exchange_rates"] or {}).items())
        if code != currency
    ]
    return {
        "component_names": names,
        "per_label_rule": PER_LABEL_RULE,
        "tables": tables,
        "quality": quality,
        "reporting_currency": currency,
        "converted_total": _converted_text(totals["converted"]),
        "total_accepted": totals["accepted_labels"],
        "rates": rates,
        "rate_date": report["rate_date"],
    }


def _converted_text(converted: dict[str, Any] | None) -> dict[str, str] | None:
    if converted is None:
        return None
    code = converted["currency"]
    if converted["total"] is None:
        missing = ", ".join(converted["missing"])
        return {"total": f"unavailable (no rate for {missing})", "per_label": "—"}
    return {
        "total": money(converted["total"], code),
        "per_label": per_label(converted["per_accepted_label"], code),
    }


def vendor_sla_view(request):
    """A vendor's SLA card for a period: throughput, median turnaround, gold accuracy with its
    interval, rework, cost per accepted label; charts of labels per day and the cost split."""
    _require_ops(request)
    periods, by_id = _period_choices()
    vendors = list(Vendor.objects.only("id", "name").order_by("name"))
    asked = VendorSlaFilter(request.GET or None, periods=periods, vendors=vendors)
    period = by_id.get(_cleaned(asked, "period")) or next(iter(by_id.values()), None)
    vendor_id = _cleaned(asked, "vendor")
    vendor = next((v for v in vendors if v.pk == vendor_id), vendors[0] if vendors else None)
    form = VendorSlaFilter(
        {"period": period.pk if period else "", "vendor": vendor.pk if vendor else ""},
        periods=periods,
        vendors=vendors,
    )
    context: dict[str, Any] = {
        "title": f"Vendor SLA: {vendor.name}" if vendor else "Vendor SLA",
        "form": form,
        "filter_errors": asked.errors if asked.is_bound else {},
        "period": period,
        "vendor": vendor,
    }
    if period is not None and vendor is not None:
        card = costs.vendor_sla_card(vendor=vendor, period=period)
        context.update(_card_context(card))
    return _render(request, "vendor_sla.html", context)


def _days_text(days: Decimal) -> str:
    return plain(days.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _throughput_text(t: dict[str, Any]) -> str:
    """The labels and the days they came in ("7 in 30 days"); for a period under way, how much
    of it has passed; before it starts, that it has not."""
    if not t["days"]:
        return f"{t['labels']} (the period has not started)"
    text = f"{t['labels']} in {_days_text(t['days'])} days"
    if t["under_way"]:
        text += (
            f" (the period is under way: {_days_text(t['days'])} of its "
            f"{_days_text(t['period_days'])} days have passed)"
        )
    return text


def _card_context(card: dict[str, Any]) -> dict[str, Any]:
    t, turnaround = card["throughput"], card["turnaround"]
    rework = card["rework"]
    median = turnaround["median_seconds"]
    figures = [
        ("Labels submitted", _throughput_text(t)),
        (
            "Labels per day",
            "—"
            if t["per_day"] is None
            else f"{t['per_day']}" + (" so far" if t["under_way"] else ""),
        ),
        (
            "Median turnaround, lease to submit",
            f"{duration_text(median)} (n = {turnaround['n']} labels)"
            if median is not None
            else "no labels submitted",
        ),
        ("Gold accuracy", rate_text(card["accuracy"])),
        ("Rework (labels that lost to the final answer)", rate_text(rework)),
        ("Accepted labels", str(card["accepted_labels"])),
    ]
    for code, c in card["costs"].items():
        figures.append((f"Cost ({code})", money(c["total"], code)))
        figures.append(
            (f"Cost per accepted label ({code})", per_label(c["per_accepted_label"], code))
        )
    vendor, period = card["vendor"], card["period"]
    return {
        "figures": figures,
        "daily_chart": _svg(
            charts.bar_chart(
                [(f"{d['day']:%d %b}", d["labels"]) for d in t["daily"]],
                title="Labels submitted per day",
                value_name="labels",
            )
        ),
        "under_way": t["under_way"],
        "per_label_rule": PER_LABEL_RULE,
        "split_charts": [
            split_chart([(code, c)], code, title="Cost split") for code, c in card["costs"].items()
        ],
        "report_url": reverse("admin:payments_cost_report")
        + "?"
        + urlencode({"period": period.pk, "group_by": "vendor"}),
        "vendor_url": _url("workforce_vendor_change", vendor.pk),
    }


# -- the URLs ------------------------------------------------------------------------------------


def report_urls() -> list:
    """The two pages, wrapped by the admin site (login, staff, CSRF, no caching)."""
    wrap = admin.site.admin_view
    return [
        path("payments/reports/costs/", wrap(cost_report_view), name="payments_cost_report"),
        path("payments/reports/vendor-sla/", wrap(vendor_sla_view), name="payments_vendor_sla"),
    ]


def _with_reports(get_urls):
    def get_urls_with_reports() -> list:
        # First: the site's catch-all app and model patterns would otherwise shadow them.
        return report_urls() + get_urls()

    get_urls_with_reports.with_payments_reports = True
    return get_urls_with_reports


if not getattr(admin.site.get_urls, "with_payments_reports", False):
    admin.site.get_urls = _with_reports(admin.site.get_urls)
