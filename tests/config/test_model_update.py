"""``config.services.model_update`` writes the fields it is given and nothing else: one UPDATE
of those columns and the auto_now ones, after the model's validation unless the caller checked
already; unknown names are refused before anything is set. ``with_defaults`` completes a create
service's arguments with the model's defaults."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.services import UNCHANGEABLE, model_update, with_defaults
from tests.factories import SkillFactory, VendorFactory, make_labeler
from workforce.models import Labeler, Vendor

pytestmark = pytest.mark.django_db


def _updates(ctx: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("UPDATE")]


def test_it_saves_only_the_given_fields_and_updated_at():
    vendor = VendorFactory(contact_name="Ana", country="PT")
    before = vendor.updated_at
    stale = Vendor.objects.get(pk=vendor.pk)
    with CaptureQueriesContext(connection) as ctx:
        vendor, changed = model_update(
            instance=vendor,
            fields=("contact_name", "country"),
            data={"contact_name": "Bea", "country": "PT"},
        )
    [sql] = _updates(ctx)
    assert '"contact_name"' in sql and '"country"' in sql and '"updated_at"' in sql
    assert '"name"' not in sql and '"default_currency"' not in sql
    assert changed == ["contact_name"]
    stale.refresh_from_db()
    assert (stale.contact_name, stale.country) == ("Bea", "PT")
    assert stale.updated_at > before


def test_an_unknown_field_is_refused_before_anything_is_set():
    vendor = VendorFactory(contact_name="Ana")
    with pytest.raises(ValidationError) as exc:
        model_update(
            instance=vendor,
            fields=("contact_name",),
            data={"contact_name": "Bea", "slug": "x", "status": "suspended"},
        )
    assert exc.value.message_dict == {"slug": [UNCHANGEABLE], "status": [UNCHANGEABLE]}
    assert vendor.contact_name == "Ana"


def test_the_model_validation_runs_and_an_invalid_row_is_not_saved():
    vendor = VendorFactory(country="PT")
    with CaptureQueriesContext(connection) as ctx, pytest.raises(ValidationError) as exc:
        model_update(instance=vendor, fields=("country",), data={"country": "PRT"})
    assert "country" in exc.value.message_dict
    assert _updates(ctx) == []
    assert Vendor.objects.get(pk=vendor.pk).country == "PT"


def test_without_full_clean_the_caller_answers_for_the_values():
    vendor = VendorFactory(slug="taken-a")
    VendorFactory(slug="taken-b")
    with CaptureQueriesContext(connection) as ctx:
        model_update(
            instance=vendor, fields=("contact_name",), data={"contact_name": "C"}, full_clean=False
        )
    # No uniqueness probes: the only statement is the UPDATE.
    assert len(ctx.captured_queries) == 1
    assert _updates(ctx)


def test_clean_exclude_leaves_fields_out_of_the_validation():
    vendor = VendorFactory(country="PT")
    vendor.country = "XYZ"  # bad, but not this write's to check, nor to save
    model_update(
        instance=vendor,
        fields=("contact_name",),
        data={"contact_name": "D"},
        clean_exclude=("country",),
    )
    row = Vendor.objects.get(pk=vendor.pk)
    assert (row.contact_name, row.country) == ("D", "PT")


def test_a_relation_given_as_the_same_row_is_not_a_change():
    labeler = make_labeler(vendor=VendorFactory())
    same = Vendor.objects.get(pk=labeler.vendor_id)
    _, changed = model_update(
        instance=labeler, fields=("vendor", "external_id"), data={"vendor": same}, full_clean=False
    )
    assert changed == []


def test_many_to_many_fields_are_set_after_the_save_without_an_update_of_their_own():
    labeler = make_labeler()
    skills = [SkillFactory(), SkillFactory()]
    with CaptureQueriesContext(connection) as ctx:
        _, changed = model_update(
            instance=labeler, fields=("skills",), data={"skills": skills}, full_clean=False
        )
    assert _updates(ctx) == []
    assert changed == ["skills"]
    assert set(Labeler.objects.get(pk=labeler.pk).skills.all()) == set(skills)


def test_nothing_given_writes_nothing():
    vendor = VendorFactory()
    with CaptureQueriesContext(connection) as ctx:
        _, changed = model_update(instance=vendor, fields=("contact_name",), data={})
    assert changed == []
    assert _updates(ctx) == []


def test_with_defaults_takes_the_given_values_and_the_model_defaults_for_the_rest():
    values = with_defaults(
        Labeler, ("kind", "timezone", "seniority", "skills", "external_id"), {"kind": "vendor"}
    )
    assert values == {
        "kind": "vendor",
        "timezone": "UTC",
        "seniority": Labeler.Seniority.LABELER,
        "skills": (),
        "external_id": "",
    }
    assert list(values) == ["kind", "timezone", "seniority", "skills", "external_id"]
