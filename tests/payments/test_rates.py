"""Rates and the other pay settings through payments.services.rates: each bad input refused on
its field; rates of one scope and family never overlap (the service, the exclusion constraint,
and two creations at once); no rate created or ended so that a frozen period would change."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from config.errors import Conflict, NotFound
from payments.models import BonusTier, ExchangeRate, PayPeriod, PayPolicy, PayRate, VendorContract
from payments.services import rates
from payments.services.rates import (
    bonus_tier_create,
    contract_set,
    exchange_rate_set,
    policy_set,
    rate_create,
    rate_end,
)
from tests.assignments.factories import make_project
from tests.conftest import requires_postgres
from tests.factories import VendorFactory, race
from tests.payments.factories import DEC, JAN, NOV, make_period

pytestmark = pytest.mark.django_db

OCT = datetime(2026, 10, 1, tzinfo=UTC)
MID_OCT = datetime(2026, 10, 15, tzinfo=UTC)
MID_NOV = datetime(2026, 11, 15, tzinfo=UTC)


@pytest.fixture
def project(db):
    return make_project(tasks=0)


def create(project, **overrides) -> PayRate:
    """A rate through the service: 0.10 EUR per accepted label for the project from November."""
    kwargs = {
        "actor": None,
        "project": project,
        "unit": "accepted_label",
        "amount": Decimal("0.10"),
        "currency": "EUR",
        "effective_from": NOV,
    }
    return rate_create(**(kwargs | overrides))


def refused_fields(service, **kwargs) -> set[str]:
    """The fields a ValidationError from ``service(**kwargs)`` names."""
    with pytest.raises(ValidationError) as caught:
        service(**kwargs)
    return set(caught.value.message_dict)


# -- rate_create: each field ----------------------------------------------------------------------


def test_a_valid_rate_is_created_with_its_creator(project, ops_user):
    rate = create(project, actor=ops_user, note="launch price")
    rate.refresh_from_db()
    assert (rate.scope, rate.unit, rate.amount, rate.currency) == (
        "project",
        "accepted_label",
        Decimal("0.10"),
        "EUR",
    )
    assert (rate.effective_from, rate.effective_to, rate.created_by) == (NOV, None, ops_user)
    assert rate.note == "launch price"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"unit": "per_banana"}, "unit"),
        ({"scope": "team"}, "scope"),
        ({"currency": "ABC"}, "currency"),
        ({"currency": "eur"}, "currency"),
        ({"amount": 0.1}, "amount"),
        ({"amount": "0.10"}, "amount"),
        ({"amount": Decimal("-0.01")}, "amount"),
        ({"amount": Decimal("0.0000001")}, "amount"),  # 7 decimals: the column keeps 6
        ({"amount": Decimal("NaN")}, "amount"),
        ({"effective_from": datetime(2026, 11, 1)}, "effective_from"),  # naive
        ({"effective_from": date(2026, 11, 1)}, "effective_from"),
        ({"effective_to": NOV}, "effective_to"),
        ({"effective_to": datetime(2026, 10, 31, tzinfo=UTC)}, "effective_to"),
    ],
)
def test_each_bad_field_is_refused_on_its_name(project, overrides, field):
    assert refused_fields(create, project=project, **overrides) == {field}
    assert not PayRate.objects.exists()


def test_every_bad_field_is_reported_at_once(project):
    fields = refused_fields(
        create, project=project, currency="XYZ", amount=1.5, effective_to=datetime(2026, 1, 1)
    )
    assert fields == {"currency", "amount", "effective_to"}
    no_project = {"actor": None, "unit": "accepted_label", "currency": "EUR", "project": None}
    no_project |= {"amount": Decimal(1), "effective_from": NOV}
    assert refused_fields(rate_create, **no_project) == {"project"}


def test_scopes_name_exactly_their_vendor_or_labeler(
    project, vendor_a, vendor_labeler, internal_labeler
):
    assert refused_fields(create, project=project, scope="vendor") == {"vendor"}
    assert refused_fields(create, project=project, scope="labeler") == {"labeler"}
    assert refused_fields(create, project=project, vendor=vendor_a) == {"vendor"}
    assert refused_fields(create, project=project, labeler=vendor_labeler) == {"labeler"}
    assert refused_fields(create, project=project, scope="internal", vendor=vendor_a) == {"vendor"}
    assert refused_fields(
        create, project=project, scope="vendor", vendor=vendor_a, labeler=vendor_labeler
    ) == {"labeler"}
    assert refused_fields(
        create, project=project, scope="labeler", labeler=vendor_labeler, vendor=vendor_a
    ) == {"vendor"}
    # Each scope with what it names is accepted (they do not overlap: different scopes).
    assert create(project, scope="internal").scope == "internal"
    assert create(project, scope="vendor", vendor=vendor_a).vendor == vendor_a
    assert create(project, scope="labeler", labeler=internal_labeler).labeler == internal_labeler


def test_hourly_pay_is_for_internal_staff_only(project, vendor_a, vendor_labeler, internal_labeler):
    hourly = {"unit": "active_hour", "amount": Decimal("18.50")}
    assert refused_fields(create, project=project, **hourly) == {"unit"}
    assert refused_fields(create, project=project, scope="vendor", vendor=vendor_a, **hourly) == {
        "unit"
    }
    assert refused_fields(
        create, project=project, scope="labeler", labeler=vendor_labeler, **hourly
    ) == {"unit"}
    assert create(project, scope="internal", **hourly).unit == "active_hour"
    mine = create(project, scope="labeler", labeler=internal_labeler, **hourly)
    assert (mine.scope, mine.unit) == ("labeler", "active_hour")


# -- no overlap ------------------------------------------------------------------------------------


def test_rates_of_one_scope_and_family_never_overlap(project):
    first = create(project, effective_to=DEC)
    # The same family (work): another work unit overlapping is refused as well.
    for overrides in (
        {"effective_from": MID_NOV},
        {"effective_from": OCT},  # open-ended from October: covers November
        {"effective_from": OCT, "effective_to": MID_NOV},
        {"unit": "submitted_label", "effective_from": MID_NOV, "effective_to": JAN},
    ):
        with pytest.raises(ValidationError) as caught:
            create(project, **overrides)
        assert set(caught.value.message_dict) == {"effective_from"}
        assert f"#{first.pk}" in caught.value.message_dict["effective_from"][0]
    assert PayRate.objects.count() == 1
    # Touching ranges do not overlap ([from, to) is half-open); nor do other families.
    assert create(project, effective_from=DEC).effective_from == DEC
    assert create(project, effective_from=OCT, effective_to=NOV).effective_to == NOV
    assert create(project, unit="resolved_review", amount=Decimal("0.30")).unit == (
        "resolved_review"
    )


def test_other_scopes_and_vendors_may_overlap(project, vendor_a, vendor_b):
    create(project)
    create(project, scope="vendor", vendor=vendor_a, amount=Decimal("0.12"))
    create(project, scope="vendor", vendor=vendor_b, amount=Decimal("0.08"))
    create(project, scope="internal")
    assert PayRate.objects.filter(project=project).count() == 4
    with pytest.raises(ValidationError):
        create(project, scope="vendor", vendor=vendor_a, effective_from=MID_NOV)


def test_changing_a_rate_ends_it_and_starts_the_next(project):
    old = create(project)
    rate_end(actor=None, rate_id=old.pk, effective_to=MID_NOV)
    new = create(project, amount=Decimal("0.12"), effective_from=MID_NOV)
    old.refresh_from_db()
    assert (old.effective_to, new.effective_from, new.effective_to) == (MID_NOV, MID_NOV, None)


@requires_postgres
def test_the_database_refuses_an_overlapping_rate_written_directly(project):
    create(project)
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        PayRate.objects.create(
            project=project,
            unit="submitted_label",
            amount=Decimal("1"),
            currency="EUR",
            effective_from=MID_NOV,
        )
    assert "payments_payrate_no_overlap" in str(caught.value)
    # A review rate (the other family) at the same time is the database's business too: allowed.
    PayRate.objects.create(
        project=project, unit="resolved_review", amount=1, currency="EUR", effective_from=MID_NOV
    )


@requires_postgres
def test_the_constraint_is_reported_as_the_services_own_error(project, monkeypatch):
    create(project)
    # As if the check in Python had been passed (a write that did not take the project lock).
    monkeypatch.setattr(rates, "_overlapping", lambda **kwargs: None)
    assert refused_fields(create, project=project, effective_from=MID_NOV) == {"effective_from"}
    assert PayRate.objects.count() == 1  # and the transaction is still usable


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_overlapping_rates_created_at_once_give_one_rate(project):
    results = race(2, lambda i: create(project, amount=Decimal(f"0.1{i}"), effective_from=NOV))
    created = [r for r in results if isinstance(r, PayRate)]
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert (len(created), len(refused)) == (1, 1), results
    assert "effective_from" in refused[0].message_dict
    assert PayRate.objects.filter(project=project).count() == 1


# -- frozen periods are never rewritten ------------------------------------------------------------


@pytest.mark.parametrize("status", [PayPeriod.Status.APPROVED, PayPeriod.Status.CLOSED])
def test_no_rate_is_created_that_would_pay_in_a_frozen_period(project, status):
    make_period(OCT, NOV, status=status)
    make_period(NOV, DEC)  # open: rates may still change in it
    for overrides in (
        {"effective_from": MID_OCT},
        {"effective_from": datetime(2026, 9, 1, tzinfo=UTC)},  # open-ended over October
        {"effective_from": datetime(2026, 9, 1, tzinfo=UTC), "effective_to": MID_OCT},
    ):
        with pytest.raises(ValidationError) as caught:
            create(project, **overrides)
        message = caught.value.message_dict["effective_from"][0]
        assert "2026-10" in message and status in message
    assert not PayRate.objects.exists()
    # Before it or from its end on is fine.
    create(project, effective_from=datetime(2026, 9, 1, tzinfo=UTC), effective_to=OCT)
    create(project, effective_from=NOV)
    assert PayRate.objects.count() == 2


@pytest.mark.parametrize("status", [PayPeriod.Status.APPROVED, PayPeriod.Status.CLOSED])
def test_a_rate_is_ended_only_after_the_frozen_periods_it_paid(project, status):
    rate = create(project, effective_from=OCT)
    make_period(OCT, NOV, status=status)
    with pytest.raises(ValidationError) as caught:
        rate_end(actor=None, rate_id=rate.pk, effective_to=MID_OCT)
    assert "2026-10" in caught.value.message_dict["effective_to"][0]
    rate.refresh_from_db()
    assert rate.effective_to is None
    assert rate_end(actor=None, rate_id=rate.pk, effective_to=NOV).effective_to == NOV


def test_rate_end_refusals(project):
    rate = create(project)
    assert refused_fields(rate_end, actor=None, rate_id=rate.pk, effective_to=NOV) == {
        "effective_to"
    }
    naive = datetime(2026, 12, 1)
    assert refused_fields(rate_end, actor=None, rate_id=rate.pk, effective_to=naive) == {
        "effective_to"
    }
    with pytest.raises(NotFound):
        rate_end(actor=None, rate_id=rate.pk + 1000, effective_to=DEC)
    rate_end(actor=None, rate_id=rate.pk, effective_to=DEC)
    with pytest.raises(Conflict) as caught:
        rate_end(actor=None, rate_id=rate.pk, effective_to=JAN)
    assert caught.value.code == "rate_ended"
    rate.refresh_from_db()
    assert rate.effective_to == DEC


# -- policy, bonus tiers, contracts, exchange rates ------------------------------------------------


def test_policy_set_creates_then_replaces_the_projects_policy(project):
    policy_set(actor=None, project=project, rejected_fraction=Decimal("0.5"), clawback=True)
    policy_set(actor=None, project=project, rejected_fraction=Decimal(0), clawback=False)
    policy = PayPolicy.objects.get(project=project)
    assert (policy.rejected_fraction, policy.clawback) == (Decimal(0), False)


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"rejected_fraction": Decimal("1.01")}, {"rejected_fraction"}),
        ({"rejected_fraction": Decimal("-0.1")}, {"rejected_fraction"}),
        ({"rejected_fraction": 0.5}, {"rejected_fraction"}),
        ({"rejected_fraction": Decimal("0.12345")}, {"rejected_fraction"}),
        ({"clawback": "no"}, {"clawback"}),
        ({"rejected_fraction": 0.5, "clawback": None}, {"rejected_fraction", "clawback"}),
    ],
)
def test_policy_set_refusals(project, overrides, fields):
    kwargs = {"actor": None, "project": project, "rejected_fraction": Decimal("0.5")}
    assert refused_fields(policy_set, **({"clawback": True} | kwargs | overrides)) == fields
    assert not PayPolicy.objects.exists()


def test_bonus_tiers(project):
    tier = bonus_tier_create(
        actor=None,
        project=project,
        min_lower_bound=Decimal("0.95"),
        min_checks=30,
        percent=Decimal(10),
    )
    assert (tier.min_lower_bound, tier.min_checks, tier.percent) == (Decimal("0.95"), 30, 10)
    kwargs = {
        "actor": None,
        "project": project,
        "min_lower_bound": Decimal("0.9"),
        "min_checks": 30,
        "percent": Decimal(5),
    }
    for overrides, field in (
        ({"min_lower_bound": Decimal("1.5")}, "min_lower_bound"),
        ({"min_lower_bound": 0.9}, "min_lower_bound"),
        ({"percent": Decimal(0)}, "percent"),
        ({"percent": 5.0}, "percent"),
        ({"min_checks": 0}, "min_checks"),
        ({"min_checks": True}, "min_checks"),
        ({"min_lower_bound": Decimal("0.95")}, "min_lower_bound"),  # that tier exists
    ):
        assert refused_fields(bonus_tier_create, **(kwargs | overrides)) == {field}
    bonus_tier_create(**kwargs)
    assert BonusTier.objects.filter(project=project).count() == 2


def test_vendor_contracts(vendor_a):
    contract_set(actor=None, vendor=vendor_a, fee_percent=Decimal("5"), fee_per_label=Decimal(0))
    contract_set(
        actor=None, vendor=vendor_a, fee_percent=Decimal(0), fee_per_label=Decimal("0.002")
    )
    contract = VendorContract.objects.get(vendor=vendor_a)
    assert (contract.fee_percent, contract.fee_per_label) == (Decimal(0), Decimal("0.002"))
    kwargs = {"actor": None, "vendor": vendor_a, "fee_percent": Decimal(1)}
    assert refused_fields(
        contract_set, **kwargs | {"fee_percent": Decimal(-1), "fee_per_label": 0.01}
    ) == {"fee_percent", "fee_per_label"}
    # The contract currency is the vendor's, and must be a real one.
    odd = VendorFactory(slug="odd", default_currency="ZZZ")
    assert refused_fields(
        contract_set, **kwargs | {"vendor": odd, "fee_per_label": Decimal(0)}
    ) == {"vendor"}


def test_exchange_rates(db):
    exchange_rate_set(
        actor=None, base="EUR", quote="USD", rate=Decimal("1.08"), effective_from=date(2026, 11, 1)
    )
    exchange_rate_set(
        actor=None, base="EUR", quote="USD", rate=Decimal("1.09"), effective_from=date(2026, 11, 1)
    )
    exchange_rate_set(
        actor=None, base="EUR", quote="USD", rate=Decimal("1.10"), effective_from=date(2026, 12, 1)
    )
    assert list(ExchangeRate.objects.values_list("effective_from", "rate")) == [
        (date(2026, 12, 1), Decimal("1.10")),
        (date(2026, 11, 1), Decimal("1.09")),
    ]
    kwargs = {"actor": None, "base": "EUR", "quote": "JPY", "rate": Decimal(160)}
    kwargs["effective_from"] = date(2026, 11, 1)
    for overrides, fields in (
        ({"quote": "EUR"}, {"quote"}),
        ({"base": "EURO", "quote": "XYZ"}, {"base", "quote"}),
        ({"rate": Decimal(0)}, {"rate"}),
        ({"rate": 160.0}, {"rate"}),
        ({"effective_from": datetime(2026, 11, 1, tzinfo=UTC)}, {"effective_from"}),
    ):
        assert refused_fields(exchange_rate_set, **(kwargs | overrides)) == fields
    assert ExchangeRate.objects.count() == 2
