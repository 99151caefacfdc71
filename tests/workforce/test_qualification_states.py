"""The states of a qualification grant as queryset methods (``Qualification.objects``): one
condition each, agreeing with ``Qualification.is_valid_at`` row by row, and what the admin's
state filter and the API's ``valid`` filter show."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import admin_url, make_labeler
from workforce import selectors, services
from workforce.models import Qualification, QualificationType

pytestmark = pytest.mark.django_db


@pytest.fixture
def grants():
    """One grant in each state at ``now``: valid for ever, valid until tomorrow, expired an hour
    ago, revoked, superseded (by the valid-for-ever one)."""
    now = timezone.now()
    qtype = QualificationType.objects.create(slug="poles", name="Poles")
    other = QualificationType.objects.create(slug="boxes", name="Boxes")
    labelers = [make_labeler() for _ in range(4)]

    def grant(labeler, qt=qtype, valid_days=None, at=now - timedelta(days=2)):
        return services.qualification_grant(
            actor=None,
            labeler=labeler,
            qualification_type=qt,
            source=Qualification.Source.MANUAL,
            valid_days=valid_days,
            reason="test",
            now=at,
        )

    superseded = grant(labelers[0])
    forever = grant(labelers[0], at=now - timedelta(days=1))
    until_tomorrow = grant(labelers[1], valid_days=3)
    expired = grant(labelers[2], valid_days=1, at=now - timedelta(days=1, hours=1))
    revoked = grant(labelers[3], qt=other)
    services.qualification_revoke(actor=None, qualification=revoked, reason="test")
    superseded.refresh_from_db()
    return {
        "now": now,
        "forever": forever,
        "until_tomorrow": until_tomorrow,
        "expired": expired,
        "revoked": revoked,
        "superseded": superseded,
    }


def _names(grants, queryset) -> set[str]:
    ids = set(queryset.values_list("pk", flat=True))
    return {name for name, g in grants.items() if name != "now" and g.pk in ids}


def test_each_state_is_the_rows_it_names(grants):
    objects = Qualification.objects
    now = grants["now"]
    assert _names(grants, objects.live()) == {"forever", "until_tomorrow", "expired"}
    assert _names(grants, objects.valid(now)) == {"forever", "until_tomorrow"}
    assert _names(grants, objects.not_valid(now)) == {"expired", "revoked", "superseded"}
    assert _names(grants, objects.expired(now)) == {"expired"}


def test_valid_agrees_with_is_valid_at_at_any_time(grants):
    now = grants["now"]
    for at in (now, now + timedelta(days=2), now - timedelta(days=1, minutes=30)):
        valid = set(Qualification.objects.valid(at).values_list("pk", flat=True))
        assert valid == {g.pk for g in Qualification.objects.all() if g.is_valid_at(at)}
        assert not valid & set(Qualification.objects.not_valid(at).values_list("pk", flat=True))


def test_the_selector_finds_the_valid_grant_only(grants):
    forever = grants["forever"]
    found = selectors.qualification_valid(
        labeler=forever.labeler, qualification_type_id=forever.qualification_type_id
    )
    assert found == forever
    expired = grants["expired"]
    assert (
        selectors.qualification_valid(
            labeler=expired.labeler, qualification_type_id=expired.qualification_type_id
        )
        is None
    )


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("valid", {"forever", "until_tomorrow"}),
        ("expired", {"expired"}),
        ("revoked", {"revoked"}),
        ("superseded", {"superseded"}),
    ],
)
def test_the_admin_state_filter(grants, admin_client, state, expected):
    response = admin_client.get(admin_url(Qualification, "changelist") + f"?state={state}")
    assert response.status_code == 200
    assert _names(grants, response.context["cl"].queryset) == expected


@pytest.mark.parametrize(("value", "expected"), [("true", 2), ("false", 3)])
def test_the_api_valid_filter(grants, ops_client, value, expected):
    response = ops_client.get(f"/api/v1/qualifications/?valid={value}")
    assert response.status_code == 200
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    assert len(rows) == expected
