"""The admin smoke test: every ModelAdmin of ours (workforce, qc, assignments, payments)
renders its changelist, search, add and change pages for an operations manager (not a
superuser), on at least one row of each model; and the labeler's import, export and
autocomplete pages render. Each app's sample rows come from its own tests/<app>/factories.py."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from tests.assignments.factories import assignments_admin_samples
from tests.factories import SkillFactory, admin_url
from tests.payments.factories import payments_admin_samples
from tests.qc.factories import qc_admin_samples, rules_admin_samples
from tests.qc.quiz_factories import quiz_admin_samples
from workforce import services
from workforce.models import Labeler, LabelerStatusChange, Skill, User, Vendor, VendorMembership

pytestmark = pytest.mark.django_db

OUR_APPS = {"workforce", "qc", "assignments", "payments"}


def _our_models() -> list[type]:
    return sorted(
        (m for m in admin.site._registry if m._meta.app_label in OUR_APPS),
        key=lambda m: m._meta.label,
    )


@pytest.fixture
def sample_data(vendor_a, manager_a, vendor_labeler, internal_labeler, ops_user):
    """At least one row of every model that has an admin, for the change pages (each app's
    rows come from its own tests/<app>/factories.py)."""
    skill = SkillFactory(slug="bbox", name="Bounding boxes")
    services.labeler_update(actor=None, labeler=vendor_labeler, data={"skills": ["bbox"]})
    return {
        "skill": skill,
        **qc_admin_samples(actor=ops_user, labeler=vendor_labeler),
        **quiz_admin_samples(labeler=internal_labeler),
        **assignments_admin_samples(actor=ops_user, labeler=vendor_labeler),
        **rules_admin_samples(actor=ops_user, labeler=internal_labeler),
        **payments_admin_samples(actor=ops_user, labeler=vendor_labeler),
    }


def test_smoke_covers_the_workforce_admins():
    # So the parametrized smoke test below cannot pass by covering nothing.
    assert {Labeler, LabelerStatusChange, Skill, User, Vendor, VendorMembership} <= set(
        _our_models()
    )


@pytest.mark.parametrize("model", _our_models(), ids=lambda m: m._meta.label)
def test_admin_pages_render_for_ops_manager(model, ops_client, ops_user, sample_data):
    assert not ops_user.is_superuser
    model_admin = admin.site._registry[model]
    request = RequestFactory().get("/")
    request.user = ops_user

    response = ops_client.get(admin_url(model, "changelist"))
    assert response.status_code == 200, f"{model._meta.label} changelist"
    response = ops_client.get(admin_url(model, "changelist"), {"q": "a"})
    assert response.status_code == 200, f"{model._meta.label} changelist search"

    if model_admin.has_add_permission(request):
        response = ops_client.get(admin_url(model, "add"))
        assert response.status_code == 200, f"{model._meta.label} add page"

    obj = model_admin.get_queryset(request).order_by("pk").first()
    assert obj is not None, f"add a {model.__name__} to sample_data so its change page is tested"
    response = ops_client.get(admin_url(model, "change", obj.pk))
    assert response.status_code == 200, f"{model._meta.label} change page"


def test_labeler_import_export_and_autocomplete_pages_render(ops_client, sample_data):
    assert ops_client.get(admin_url(Labeler, "import")).status_code == 200
    assert ops_client.get(admin_url(Labeler, "export")).status_code == 200
    response = ops_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "workforce", "model_name": "labeler", "field_name": "vendor", "term": "acm"},
    )
    assert response.status_code == 200
    assert [r["text"] for r in response.json()["results"]] == ["Acme Annotation"]
