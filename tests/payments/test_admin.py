"""The payments admin: every page renders for operations; the workflow's steps go through
their confirmation pages (totals per currency and the ledger hash shown, a reason asked, the
hash shown is the hash approved); the ledger cannot be changed or deleted through the admin;
nobody but staff gets in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from assignments.models import Assignment
from payments.admin import period_totals
from payments.ledger import ledger_hash
from payments.models import (
    Calculation,
    Invoice,
    LedgerLine,
    PaidItem,
    PayPeriod,
    PayPeriodStatusChange,
    PayRate,
)
from payments.services import calculate
from qc.models import LabelOutcome
from tests.factories import admin_url
from tests.payments.factories import (
    MID_NOV,
    bonus_tier,
    decided_labels,
    make_period,
    overturn,
    payments_admin_samples,
)

pytestmark = pytest.mark.django_db

PAYMENTS_MODELS = sorted(
    (m for m in admin.site._registry if m._meta.app_label == "payments"),
    key=lambda m: m._meta.label,
)


@pytest.fixture
def samples(ops_user, vendor_labeler):
    return payments_admin_samples(actor=ops_user, labeler=vendor_labeler)


def _post_action(client, model, action: str, objects, **data):
    return client.post(
        admin_url(model, "changelist"),
        {"action": action, ACTION_CHECKBOX_NAME: [o.pk for o in objects], **data},
    )


# -- every page ------------------------------------------------------------------------------------


def test_every_payments_model_has_an_admin():
    # So the page test below cannot pass by covering nothing.
    assert len(PAYMENTS_MODELS) == 10


@pytest.mark.parametrize("model", PAYMENTS_MODELS, ids=lambda m: m._meta.label)
def test_pages_render_for_ops(model, ops_client, ops_user, samples):
    model_admin = admin.site._registry[model]
    request = RequestFactory().get("/")
    request.user = ops_user
    assert ops_client.get(admin_url(model, "changelist")).status_code == 200
    assert ops_client.get(admin_url(model, "changelist"), {"q": "L-"}).status_code == 200
    if model_admin.has_add_permission(request):
        assert ops_client.get(admin_url(model, "add")).status_code == 200
    for obj in model_admin.get_queryset(request).order_by("pk")[:3]:
        assert ops_client.get(admin_url(model, "change", obj.pk)).status_code == 200


def test_the_periods_list_shows_totals_per_currency_and_the_hash(ops_client, samples):
    november = samples["period"]
    response = ops_client.get(admin_url(PayPeriod, "changelist"))
    text = response.content.decode()
    assert "2026-11" in text and "2026-10" in text
    total = LedgerLine.objects.filter(period=november, currency="EUR")
    expected = sum((line.amount for line in total), Decimal(0))
    assert f"{expected.quantize(Decimal('0.01')):,f} EUR" in text
    november.refresh_from_db()
    assert november.ledger_hash[:12] in text


def test_totals_are_one_group_by_query(samples, django_assert_num_queries):
    october, november = samples["approved_period"], samples["period"]
    with django_assert_num_queries(1):
        totals = period_totals([october.pk, november.pk])
    for period in (october, november):
        lines = LedgerLine.objects.filter(period=period)
        assert totals[period.pk] == {
            c: sum((x.amount for x in lines if x.currency == c), Decimal(0))
            for c in {x.currency for x in lines}
        }


# -- approve and close -----------------------------------------------------------------------------


def test_approve_asks_first_showing_totals_and_hash(ops_client, samples):
    november = samples["period"]
    november.refresh_from_db()
    response = _post_action(ops_client, PayPeriod, "approve", [november])
    assert response.status_code == 200
    text = response.content.decode()
    assert november.ledger_hash in text  # all 64 digits, as approved
    eur = period_totals([november.pk])[november.pk]["EUR"]
    assert f"{eur.quantize(Decimal('0.01')):,f} EUR" in text
    assert 'name="reason"' in text
    november.refresh_from_db()
    assert november.status == PayPeriod.Status.CALCULATED  # nothing happened yet


def test_approving_through_the_page_records_the_reason(ops_client, ops_user, samples):
    november = samples["period"]
    page = _post_action(ops_client, PayPeriod, "approve", [november])
    hashes = page.context["form"]["hashes"].value()
    response = _post_action(
        ops_client,
        PayPeriod,
        "approve",
        [november],
        post="yes",
        reason="Checked against the vendor's own count.",
        hashes=hashes,
    )
    assert response.status_code == 302
    november.refresh_from_db()
    assert november.status == PayPeriod.Status.APPROVED
    step = PayPeriodStatusChange.objects.filter(period=november).first()
    assert (step.from_status, step.to_status) == ("calculated", "approved")
    assert step.reason == "Checked against the vendor's own count."
    assert step.actor == ops_user
    assert Invoice.objects.filter(period=november).count() == 1


def test_approving_without_a_reason_shows_the_page_again(ops_client, samples):
    november = samples["period"]
    response = _post_action(ops_client, PayPeriod, "approve", [november], post="yes", reason="")
    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    november.refresh_from_db()
    assert november.status == PayPeriod.Status.CALCULATED


def test_a_ledger_changed_after_the_page_was_shown_is_not_approved(
    ops_client, ops_user, vendor_labeler, samples
):
    november = samples["period"]
    page = _post_action(ops_client, PayPeriod, "approve", [november])
    hashes = page.context["form"]["hashes"].value()
    # More work decided and the period recalculated while the page was open.
    decided_labels(samples["pay_project"], vendor_labeler, accepted=1, at=MID_NOV)
    calculate.period_calculate(actor=ops_user, period_id=november.pk)
    response = _post_action(
        ops_client, PayPeriod, "approve", [november], post="yes", reason="ok", hashes=hashes
    )
    assert response.status_code == 302
    november.refresh_from_db()
    assert november.status == PayPeriod.Status.CALCULATED
    assert november.ledger_hash == ledger_hash(november.pk)
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("Could not approve 2026-11" in m for m in messages), messages


def test_the_period_page_buttons_run_the_step_on_that_period(ops_client, samples):
    october = samples["approved_period"]
    page = ops_client.get(admin_url(PayPeriod, "change", october.pk))
    close_url = admin_url(PayPeriod, "close", october.pk)
    assert close_url in page.content.decode()
    assert admin_url(PayPeriod, "approve", october.pk) not in page.content.decode()
    confirm = ops_client.get(close_url)
    assert confirm.status_code == 200 and october.ledger_hash in confirm.content.decode()
    done = ops_client.post(close_url, {"post": "yes", "reason": "Paid out."})
    assert done.status_code == 302
    assert done.url == admin_url(PayPeriod, "change", october.pk)
    october.refresh_from_db()
    assert october.status == PayPeriod.Status.CLOSED


# -- calculate and its progress --------------------------------------------------------------------


def test_calculate_queues_a_calculation_that_the_page_follows(
    ops_client, samples, django_capture_on_commit_callbacks
):
    november = samples["period"]
    url = admin_url(PayPeriod, "calculate", november.pk)
    assert ops_client.get(url).status_code == 200  # asks first
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ops_client.post(url, {"post": "yes"})
    queued = Calculation.objects.filter(period=november).first()
    assert queued.status == Calculation.Status.QUEUED
    page = ops_client.get(admin_url(PayPeriod, "change", november.pk)).content.decode()
    assert '<meta http-equiv="refresh"' in page and "Queued at" in page
    for callback in callbacks:  # the worker runs it
        callback()
    queued.refresh_from_db()
    assert queued.status == Calculation.Status.DONE
    page = ops_client.get(admin_url(PayPeriod, "change", november.pk)).content.decode()
    assert '<meta http-equiv="refresh"' not in page and "Done at" in page


def test_a_running_calculation_shows_its_progress(ops_client, samples):
    november = samples["period"]
    Calculation.objects.create(
        period=november, status=Calculation.Status.RUNNING, batches_total=4, batches_done=1
    )
    page = ops_client.get(admin_url(PayPeriod, "change", november.pk)).content.decode()
    assert '<progress value="1" max="4">' in page and "Running: 1 of 4 projects" in page
    assert '<meta http-equiv="refresh"' in page


def test_a_period_is_created_through_the_service(ops_client):
    response = ops_client.post(
        admin_url(PayPeriod, "add"),
        {"cadence": "monthly", "starts_on": "2027-01-17", "timezone": "Europe/Berlin"},
    )
    assert response.status_code == 302
    period = PayPeriod.objects.get()
    assert (period.label, period.timezone, period.status) == ("2027-01", "Europe/Berlin", "open")
    assert period.starts_at == datetime(2026, 12, 31, 23, tzinfo=UTC)  # Berlin midnight


# -- the ledger is a record ------------------------------------------------------------------------


@pytest.mark.parametrize("model", [LedgerLine, PaidItem, Invoice, Calculation])
def test_records_cannot_be_changed_or_deleted_through_the_admin(model, ops_client, samples):
    obj = model.objects.order_by("pk").first()
    before = model.objects.filter(pk=obj.pk).values().get()
    assert ops_client.post(admin_url(model, "change", obj.pk), {"amount": "999"}).status_code == 403
    assert ops_client.post(admin_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert ops_client.get(admin_url(model, "add")).status_code == 403
    response = ops_client.post(
        admin_url(model, "changelist"),
        {"action": "delete_selected", ACTION_CHECKBOX_NAME: [obj.pk], "post": "yes"},
    )
    assert model.objects.filter(pk=obj.pk).values().get() == before
    page = ops_client.get(admin_url(model, "change", obj.pk)).content.decode()
    assert 'name="_save"' not in page and "deletelink" not in page
    del response


def test_a_line_page_links_the_work_it_pays_for(ops_client, samples):
    line = LedgerLine.objects.filter(kind="task").exclude(items=None).order_by("pk").first()
    page = ops_client.get(admin_url(LedgerLine, "change", line.pk)).content.decode()
    for item in line.items.all():
        assert admin_url(type(item.assignment), "change", item.assignment_id) in page
    assert line.labeler.public_code in page


def test_lines_are_found_by_public_code(ops_client, samples, vendor_labeler):
    response = ops_client.get(
        admin_url(LedgerLine, "changelist"), {"q": vendor_labeler.public_code}
    )
    shown = list(response.context["cl"].result_list)
    assert shown and all(line.labeler_id == vendor_labeler.pk for line in shown)


def test_a_rate_is_never_edited_and_is_ended_by_the_action(ops_client, samples):
    rate = samples["rate"]
    response = ops_client.post(admin_url(PayRate, "change", rate.pk), {"amount": "5"})
    assert response.status_code == 403
    assert (
        ops_client.post(admin_url(PayRate, "delete", rate.pk), {"post": "yes"}).status_code == 403
    )
    response = _post_action(
        ops_client, PayRate, "end", [rate], post="yes", effective_to="2027-02-01 00:00"
    )
    assert response.status_code == 302
    rate.refresh_from_db()
    assert rate.effective_to is not None and rate.amount == Decimal("0.10")


def test_a_rate_is_added_through_the_service(ops_client, ops_user, samples):
    response = ops_client.post(
        admin_url(PayRate, "add"),
        {
            "project": samples["pay_project"].pk,
            "scope": "internal",
            "unit": "active_hour",
            "amount": "12.50",
            "currency": "EUR",
            "effective_from_0": "2026-12-01",
            "effective_from_1": "00:00:00",
            "note": "Internal staff",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    rate = PayRate.objects.get(scope="internal")
    assert (rate.amount, rate.created_by) == (Decimal("12.50"), ops_user)


# -- who gets in -----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["anonymous", "labeler", "vendor manager"])
def test_nobody_but_staff_gets_in(who, client, samples, vendor_labeler, manager_a):
    user = {"anonymous": None, "labeler": vendor_labeler.user, "vendor manager": manager_a}[who]
    if user is not None:
        client.force_login(user)
    october = samples["approved_period"]
    invoice = samples["invoice"]
    for url in (
        admin_url(PayPeriod, "changelist"),
        admin_url(PayPeriod, "change", october.pk),
        admin_url(PayPeriod, "approve", samples["period"].pk),
        admin_url(LedgerLine, "changelist"),
        admin_url(Invoice, "download", invoice.pk) + "?format=csv",
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response.url, url
    response = client.post(
        admin_url(PayPeriod, "approve", samples["period"].pk), {"post": "yes", "reason": "x"}
    )
    assert response.status_code == 302
    assert PayPeriod.objects.get(pk=samples["period"].pk).status == PayPeriod.Status.CALCULATED


# -- files -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_format", "content_type", "magic"),
    [
        ("csv", "text/csv", b""),
        ("xlsx", "application/vnd.openxmlformats", b"PK"),
        ("pdf", "application/pdf", b"%PDF"),
    ],
)
def test_an_invoice_downloads_in_each_format(ops_client, samples, file_format, content_type, magic):
    invoice = samples["invoice"]
    response = ops_client.get(admin_url(Invoice, "download", invoice.pk), {"format": file_format})
    assert response.status_code == 200
    assert response["Content-Type"].startswith(content_type)
    assert f"{invoice.reference}.{file_format}" in response["Content-Disposition"]
    assert response.content.startswith(magic)
    if file_format == "csv":
        assert invoice.reference in response.content.decode()


def test_the_invoice_list_links_its_files(ops_client, samples):
    invoice = samples["invoice"]
    page = ops_client.get(admin_url(Invoice, "changelist")).content.decode()
    for file_format in ("csv", "xlsx", "pdf"):
        assert f"{admin_url(Invoice, 'download', invoice.pk)}?format={file_format}" in page


def test_the_period_page_hands_out_the_payroll(ops_client, samples):
    response = ops_client.get(admin_url(PayPeriod, "payroll", samples["period"].pk))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response.content.decode().startswith("period,public_code")


def test_a_labelers_statement_is_one_click_from_their_lines(ops_client, samples, vendor_labeler):
    november = samples["period"]
    lines = ops_client.get(admin_url(LedgerLine, "changelist"), {"period__id__exact": november.pk})
    url = f"{admin_url(PayPeriod, 'statement', november.pk)}?labeler={vendor_labeler.pk}"
    assert url in lines.content.decode()
    page = ops_client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert vendor_labeler.public_code in text and "Pay sample" in text
    assert "0.20 EUR" in text  # 2 accepted labels at 0.10, at the minor unit
    statement = page.context["statement"]
    assert statement.period == "2026-11" and statement.totals
    assert ops_client.get(admin_url(PayPeriod, "statement", november.pk)).status_code == 404


def test_the_periods_list_costs_the_same_queries_for_more_periods(
    ops_client, samples, django_assert_max_num_queries
):
    with CaptureQueriesContext(connection) as two:
        ops_client.get(admin_url(PayPeriod, "changelist"))
    for month in (1, 2, 3):
        PayPeriod.objects.create(
            cadence="monthly",
            starts_at=datetime(2027, month, 1, tzinfo=UTC),
            ends_at=datetime(2027, month + 1, 1, tzinfo=UTC),
        )
    with django_assert_max_num_queries(len(two.captured_queries)):
        ops_client.get(admin_url(PayPeriod, "changelist"))


def test_a_policy_is_set_through_the_service_on_add_and_change(ops_client, samples):
    policy = samples["policy"]
    url = admin_url(type(policy), "change", policy.pk)
    response = ops_client.post(url, {"rejected_fraction": "0.25", "clawback": ""})
    assert response.status_code == 302
    policy.refresh_from_db()
    assert (policy.rejected_fraction, policy.clawback) == (Decimal("0.25"), False)
    response = ops_client.post(url, {"rejected_fraction": "1.5", "clawback": "on"})
    assert response.status_code == 200  # the service's error, on its field
    assert response.context["adminform"].form.errors["rejected_fraction"]
    policy.refresh_from_db()
    assert policy.rejected_fraction == Decimal("0.25")
    assert ops_client.post(admin_url(type(policy), "delete", policy.pk)).status_code == 403


def test_calculating_a_frozen_period_says_why_and_queues_nothing(ops_client, samples):
    october = samples["approved_period"]
    before = Calculation.objects.filter(period=october).count()
    response = _post_action(ops_client, PayPeriod, "calculate", [october], post="yes")
    assert response.status_code == 302
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any(m.startswith("Could not calculate 2026-10") for m in messages), messages
    assert Calculation.objects.filter(period=october).count() == before
    page = ops_client.get(admin_url(PayPeriod, "change", october.pk)).content.decode()
    assert admin_url(PayPeriod, "calculate", october.pk) not in page  # no button either


# -- deductions ----------------------------------------------------------------------------------


def test_a_deduction_is_made_from_the_period_page_through_the_service(
    ops_client, samples, vendor_labeler
):
    november = samples["period"]  # calculated
    page = ops_client.get(admin_url(PayPeriod, "change", november.pk)).content.decode()
    deduct_url = admin_url(PayPeriod, "deduct", november.pk)
    assert deduct_url in page
    form = ops_client.get(deduct_url)
    assert form.status_code == 200 and november.ledger_hash in form.content.decode()
    fields = {
        "post": "yes",
        "labeler": vendor_labeler.public_code,
        "project": samples["pay_project"].pk,
        "amount": "0.40",
        "currency": "eur",
        "reason": "Headset not returned",
    }
    unknown = ops_client.post(deduct_url, {**fields, "labeler": "nobody"})
    assert unknown.status_code == 200
    assert "No labeler has this public code or user name." in unknown.content.decode()
    assert not LedgerLine.objects.filter(kind="deduction").exists()

    done = ops_client.post(deduct_url, fields)
    assert done.status_code == 302
    line = LedgerLine.objects.get(kind="deduction")
    assert (line.labeler, line.amount, line.currency, line.rule) == (
        vendor_labeler,
        Decimal("-0.40"),
        "EUR",
        "Headset not returned",
    )
    november.refresh_from_db()
    assert november.ledger_hash == ledger_hash(november.pk)


def test_a_frozen_period_offers_no_deduction_and_refuses_one_with_the_reason(
    ops_client, samples, vendor_labeler
):
    october = samples["approved_period"]
    deduct_url = admin_url(PayPeriod, "deduct", october.pk)
    page = ops_client.get(admin_url(PayPeriod, "change", october.pk)).content.decode()
    assert deduct_url not in page
    response = ops_client.post(
        deduct_url,
        {
            "post": "yes",
            "labeler": vendor_labeler.public_code,
            "project": samples["pay_project"].pk,
            "amount": "0.40",
            "currency": "EUR",
            "reason": "Too late",
        },
    )
    assert response.status_code == 302
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("its ledger can no longer change" in m for m in messages), messages
    assert not LedgerLine.objects.filter(kind="deduction").exists()


# -- lists that fit 1400 px, figures as people read them -------------------------------------------


def test_one_periods_ledger_lines_fit_in_six_columns_with_figures_as_read(ops_client, samples):
    november, project = samples["period"], samples["pay_project"]
    project.name = "Pay sample: pole inspection in the northern region"
    project.save(update_fields=["name"])
    response = ops_client.get(
        admin_url(LedgerLine, "changelist"), {"period__id__exact": november.pk}
    )
    assert response.context["cl"].list_display == (
        "id",
        "project_column",
        "payee",
        "kind_column",
        "amount_figures",
        "rule_column",
    )
    text = response.content.decode()
    # 2 accepted labels at 0.10 EUR: the amount over its quantity and the rate (not "0.1").
    assert '0.20 EUR<br><small class="lf-nowrap">2 &times; 0.10</small>' in text
    assert f'<span title="{project.name}">Pay sample: pole inspec…</span>' in text
    everything = ops_client.get(admin_url(LedgerLine, "changelist"))
    assert "period" in everything.context["cl"].list_display  # more than one period shown


def test_the_rates_list_fits_in_five_columns_the_unit_under_the_rate(ops_client, samples):
    response = ops_client.get(admin_url(PayRate, "changelist"))
    assert tuple(response.context["cl"].list_display) == (
        "action_checkbox",
        "project_column",
        "payee",
        "rate",
        "in_effect",
        "created_by",
    )
    text = response.content.decode()
    assert "0.10 EUR</span><br><small>per accepted label</small>" in text
    assert "from 2026-01-01 00:00<" in text  # to the minute
    page = ops_client.get(admin_url(PayRate, "change", samples["rate"].pk)).content.decode()
    assert "0.10 EUR" in page and "0.100000" not in page


def test_paid_items_and_exchange_rates_show_no_stored_scale(ops_client, samples):
    items = ops_client.get(admin_url(PaidItem, "changelist")).content.decode()
    assert "0.10 EUR" in items and "0.100000" not in items
    exchange = samples["exchange_rate"]
    rates = ops_client.get(admin_url(type(exchange), "changelist")).content.decode()
    assert ">1.08<" in rates and "1.0800000000" not in rates
    form = ops_client.get(admin_url(type(exchange), "change", exchange.pk)).content.decode()
    assert 'value="1.08"' in form
    tiers = ops_client.get(admin_url(type(samples["bonus_tier"]), "changelist")).content.decode()
    assert ">+10%<" in tiers and "0.9500" not in tiers


# -- what a line's detail says -----------------------------------------------------------------


def _adjusted(ops_user, samples) -> LedgerLine:
    """October's rejected label accepted by a review in November, November recalculated: the
    adjustment line in November that corrects what October paid."""
    rejected = LabelOutcome.objects.get(project_id=samples["pay_project"].pk, agrees_final=False)
    overturn(Assignment.objects.get(pk=rejected.assignment_id), accepted=True, at=MID_NOV)
    calculate.period_calculate(actor=ops_user, period_id=samples["period"].pk)
    return LedgerLine.objects.get(kind=LedgerLine.Kind.ADJUSTMENT)


def test_an_adjustment_line_says_which_period_it_corrects(ops_client, ops_user, samples):
    october = samples["approved_period"]
    line = _adjusted(ops_user, samples)
    page = ops_client.get(admin_url(LedgerLine, "change", line.pk)).content.decode()
    october_url = admin_url(PayPeriod, "change", october.pk)
    assert f'Corrects <a href="{october_url}">2026-10</a>' in page
    assert "corrects_period" not in page
    corrected = line.items.get().corrects_id
    paid_in = f'<span class="lf-nowrap">(paid in <a href="{october_url}">2026-10</a>)</span>'
    assert f">item {corrected}</a> {paid_in}" in page


def test_a_corrected_period_links_the_later_lines_that_correct_it(ops_client, ops_user, samples):
    october, november = samples["approved_period"], samples["period"]
    line = _adjusted(ops_user, samples)
    page = ops_client.get(admin_url(PayPeriod, "change", october.pk)).content.decode()
    assert "Corrected later by" in page
    url = (
        admin_url(LedgerLine, "changelist")
        + f"?corrects={october.pk}&amp;period__id__exact={november.pk}"
    )
    assert f'<a href="{url}">1 adjustment line in 2026-11</a>' in page
    listed = ops_client.get(url.replace("&amp;", "&"))
    assert list(listed.context["cl"].result_list) == [line]
    november_page = ops_client.get(admin_url(PayPeriod, "change", november.pk)).content.decode()
    assert "Corrected later by" not in november_page  # an open ledger is recalculated instead


def test_a_bonus_line_says_in_words_what_it_rests_on(ops_client, ops_user, samples, vendor_labeler):
    project, november = samples["pay_project"], samples["period"]
    tier = bonus_tier(project, lower="0.3", n=4, percent="5")
    decided_labels(project, vendor_labeler, accepted=4, at=MID_NOV, control=True)
    calculate.period_calculate(actor=ops_user, period_id=november.pk)
    line = LedgerLine.objects.get(kind=LedgerLine.Kind.BONUS)
    page = ops_client.get(admin_url(LedgerLine, "change", line.pk)).content.decode()
    assert "4 of 4 gold checks correct: accuracy between 0.510 and 1.000" in page
    tier_url = admin_url(type(tier), "change", tier.pk)
    assert f'tier <a href="{tier_url}">+5%</a>' in page
    assert '"lower"' not in page


# -- what a calculation wrote ------------------------------------------------------------------


def test_a_recalculation_says_it_rewrote_part_beside_the_ledgers_size(
    ops_client, ops_user, samples
):
    november, first = samples["period"], samples["calculation"]
    again = calculate.period_calculate(actor=ops_user, period_id=november.pk)  # nothing changed
    # The task line with its 2 items, and the vendor's fee line; then only the fee line again.
    assert (first.lines, first.items, again.lines, again.items) == (2, 2, 1, 0)
    page = ops_client.get(admin_url(PayPeriod, "change", november.pk)).content.decode()
    assert (
        "rewrote 1 line, 0 paid items (the rest unchanged); "
        "the ledger now holds 2 lines, 2 paid items" in page
    )
    listed = ops_client.get(
        admin_url(Calculation, "changelist"), {"period__id__exact": november.pk}
    )
    text = listed.content.decode()
    assert "wrote 2 lines, 2 paid items<" in text  # the first run wrote the whole ledger
    assert "rewrote 1 line, 0 paid items (the rest unchanged)" in text
    shown = ops_client.get(admin_url(Calculation, "change", again.pk)).content.decode()
    assert "rewrote 1 line, 0 paid items (the rest unchanged)" in shown


# -- a step that will be refused says so before it is sent -------------------------------------


def _warnings(response) -> list[str]:
    return response.context["refusals"]


def test_approving_a_period_not_ended_yet_warns_and_offers_no_button_before_its_end(ops_client):
    # A week in Lisbon that ends two weeks from now, calculated early.
    start = (timezone.now() + timedelta(days=7)).replace(hour=0, minute=0, second=0, microsecond=0)
    week = make_period(
        start,
        start + timedelta(days=7),
        status=PayPeriod.Status.CALCULATED,
        cadence="weekly",
        timezone="Europe/Lisbon",
        ledger_hash="0" * 64,
    )
    end = timezone.localtime(week.ends_at, ZoneInfo("Europe/Lisbon"))
    opens = f"{end:%Y-%m-%d %H:%M} (Europe/Lisbon)"
    page = ops_client.get(admin_url(PayPeriod, "change", week.pk)).content.decode()
    assert admin_url(PayPeriod, "approve", week.pk) not in page
    assert f"Approve… opens on {opens}" in page
    confirm = ops_client.get(admin_url(PayPeriod, "approve", week.pk))
    assert _warnings(confirm) == [
        f"{week.label} will not be approved yet: it runs until {opens}, and work decided "
        "before then is still to be paid in it."
    ]
    assert '<li class="warning">' in confirm.content.decode()  # up front, before the form


def test_the_list_actions_warn_of_each_period_the_step_refuses(ops_client, samples):
    october, november = samples["approved_period"], samples["period"]  # approved; calculated
    approve = _post_action(ops_client, PayPeriod, "approve", [october, november])
    assert _warnings(approve) == [
        "2026-10 will not be approved: only a calculated period can be, and it is approved."
    ]
    close = _post_action(ops_client, PayPeriod, "close", [october, november])
    assert _warnings(close) == [
        "2026-11 will not be closed: only an approved period can be, and it is calculated."
    ]
    calculate = _post_action(ops_client, PayPeriod, "calculate", [october, november])
    assert _warnings(calculate) == [
        "2026-10 will not be calculated: it is approved, so its ledger can no longer change."
    ]
    november_page = ops_client.get(admin_url(PayPeriod, "approve", november.pk))
    assert _warnings(november_page) == []  # calculated and ended: nothing to warn of
    assert '<li class="warning">' not in november_page.content.decode()
