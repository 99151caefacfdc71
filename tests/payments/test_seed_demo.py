"""``manage.py seed_demo``: the demo operation is complete, consistent and idempotent."""

from __future__ import annotations

from io import StringIO
from itertools import pairwise

import pytest
from django.contrib.auth.hashers import check_password
from django.core.management import CommandError, call_command
from guardian.models import UserObjectPermission

from workforce import roles
from workforce.management.commands import seed_demo
from workforce.models import Labeler, LabelerStatusChange, Skill, User, Vendor, VendorMembership

pytestmark = pytest.mark.django_db

S = Labeler.Status


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", force=True, stdout=out)
    return out.getvalue()


def _snapshot() -> dict:
    """Everything the demo writes, in a form two runs can be compared by."""
    return {
        "counts": {
            "users": User.objects.count(),
            "vendors": Vendor.objects.count(),
            "labelers": Labeler.objects.count(),
            "status_changes": LabelerStatusChange.objects.count(),
            "memberships": VendorMembership.objects.count(),
            "skills": Skill.objects.count(),
            "object_permissions": UserObjectPermission.objects.count(),
        },
        "statuses": dict(Labeler.objects.values_list("user__username", "status")),
        "history": sorted(
            LabelerStatusChange.objects.values_list(
                "labeler__user__username", "from_status", "to_status", "reason", "actor__username"
            )
        ),
        "groups": sorted(User.groups.through.objects.values_list("user__username", "group__name")),
    }


def test_running_twice_yields_the_same_data():
    first_output = _seed()
    first = _snapshot()
    second_output = _seed()
    second = _snapshot()

    assert first == second
    assert first["counts"]["labelers"] == len(seed_demo.LABELERS) >= 25
    assert first["counts"]["users"] == len(seed_demo.LABELERS) + 1 + len(seed_demo.VENDORS)
    assert first["counts"]["memberships"] == len(seed_demo.VENDORS)
    assert "created 30 labelers" in first_output
    assert "created nothing" in second_output


def test_ops_manager_is_staff_in_the_ops_group():
    _seed()
    ops = User.objects.get(username="ops")
    assert ops.is_staff and ops.is_active
    assert ops.groups.filter(name=roles.OPS_MANAGERS).exists()
    assert not Labeler.objects.filter(user=ops).exists()


def test_each_vendor_has_its_manager_with_the_object_permission_and_only_its_own():
    _seed()
    northwind = Vendor.objects.get(slug="northwind")
    kestrel = Vendor.objects.get(slug="kestrel")
    nw_manager = User.objects.get(username="northwind_manager")
    ks_manager = User.objects.get(username="kestrel_manager")

    assert nw_manager.has_perm(roles.MANAGE_VENDOR, northwind)
    assert ks_manager.has_perm(roles.MANAGE_VENDOR, kestrel)
    assert not nw_manager.has_perm(roles.MANAGE_VENDOR, kestrel)
    assert not ks_manager.has_perm(roles.MANAGE_VENDOR, northwind)
    assert VendorMembership.objects.filter(vendor=northwind, user=nw_manager).exists()
    assert VendorMembership.objects.filter(vendor=kestrel, user=ks_manager).exists()
    assert (northwind.country, northwind.default_currency) == ("PT", "EUR")
    assert (kestrel.country, kestrel.default_currency) == ("IN", "INR")


def test_every_status_occurs_and_there_is_a_senior_labeler():
    _seed()
    statuses = set(Labeler.objects.values_list("status", flat=True))
    assert statuses == set(S.values)
    assert Labeler.objects.filter(status=S.SUSPENDED).count() == 2
    assert Labeler.objects.filter(status=S.OFFBOARDED).count() == 1
    assert Labeler.objects.filter(status=S.ACTIVE).count() > Labeler.objects.count() / 2

    seniors = Labeler.objects.filter(seniority=Labeler.Seniority.SENIOR)
    assert list(seniors.values_list("user__username", flat=True)) == ["senior"]
    assert seniors.get().user.groups.filter(name=roles.SENIOR_LABELERS).exists()


def test_labelers_of_both_kinds_with_deterministic_external_ids():
    _seed()
    assert Labeler.objects.filter(kind=Labeler.Kind.INTERNAL, vendor__isnull=True).count() >= 3
    for vendor in Vendor.objects.all():
        ids = list(vendor.labelers.values_list("external_id", flat=True))
        assert len(ids) >= 10
        assert all(ids) and len(set(ids)) == len(ids)
    assert Labeler.objects.get(user__username="ines.costa").external_id == "NW-0001"
    assert Labeler.objects.filter(skills__isnull=False).distinct().count() > 20
    assert Labeler.objects.exclude(languages=[]).count() == Labeler.objects.count()


def test_suspensions_and_offboarding_carry_their_reasons_and_offboarding_disables_login():
    _seed()
    for labeler in Labeler.objects.filter(status__in=[S.SUSPENDED, S.OFFBOARDED]):
        last = labeler.status_changes.order_by("-created_at", "-id").first()
        assert last.to_status == labeler.status
        assert len(last.reason) > 20
        assert last.actor is not None
    offboarded = Labeler.objects.get(status=S.OFFBOARDED)
    assert offboarded.user.is_active is False

    # Every labeler's history starts at the invitation and chains without gaps.
    for labeler in Labeler.objects.all():
        steps = list(labeler.status_changes.order_by("created_at", "id"))
        assert steps[0].from_status == "" and steps[0].to_status == S.INVITED
        assert all(a.to_status == b.from_status for a, b in pairwise(steps))
        assert steps[-1].to_status == labeler.status


def test_demo_logins_use_the_demo_password_and_get_a_token(api_client):
    _seed()
    usernames = [username for _role, username, _hint in seed_demo.LOGIN_TABLE]
    hashes = set(User.objects.filter(username__in=usernames).values_list("password", flat=True))
    assert len(hashes) == 1  # one shared hash of the one demo password
    assert check_password(seed_demo.DEMO_PASSWORD, hashes.pop())

    response = api_client.post(
        "/api/v1/auth/token/",
        {"username": "northwind_manager", "password": seed_demo.DEMO_PASSWORD},
    )
    assert response.status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert api_client.get("/api/v1/me/").status_code == 200

    refused = api_client.post(
        "/api/v1/auth/token/", {"username": "lucia.marques", "password": seed_demo.DEMO_PASSWORD}
    )
    assert refused.status_code == 400


def test_stories_name_only_demo_labelers():
    usernames = {spec.username for spec in seed_demo.LABELERS}
    assert set(seed_demo.STORIES) <= usernames
    assert len(usernames) == len(seed_demo.LABELERS)


def test_refuses_without_debug_unless_forced(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DJANGO_DEBUG=1"):
        call_command("seed_demo", stdout=StringIO())
    assert not User.objects.exists()
