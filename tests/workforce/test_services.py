"""Service tests for the workforce registry: each success and each error, the lifecycle, the
guarded status update, and the database constraints behind them."""

from __future__ import annotations

import itertools
import threading

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from guardian.shortcuts import get_perms
from rest_framework.authtoken.models import Token

from config.errors import Conflict, InvalidTransition
from tests.conftest import requires_postgres
from tests.factories import SkillFactory, UserFactory, make_labeler
from workforce import roles, selectors, services
from workforce.models import Labeler, LabelerStatusChange, User, Vendor, VendorMembership

pytestmark = pytest.mark.django_db

S = Labeler.Status


def _fields(excinfo) -> dict:
    return excinfo.value.message_dict


def _history(labeler: Labeler) -> list[tuple[str, str]]:
    rows = LabelerStatusChange.objects.filter(labeler=labeler).order_by("id")
    return [(r.from_status, r.to_status) for r in rows]


# -- vendor_create ------------------------------------------------------------------------------


def test_vendor_create_upper_cases_codes_and_is_active(ops_user):
    vendor = services.vendor_create(
        actor=ops_user, name="Delta Data", slug="delta", country="br", default_currency="brl"
    )
    vendor.refresh_from_db()
    assert (vendor.country, vendor.default_currency) == ("BR", "BRL")
    assert vendor.status == Vendor.Status.ACTIVE


@pytest.mark.parametrize("currency", ["US", "USDX", "U1D", "", "ÉUR"])
def test_vendor_create_rejects_bad_currency_on_its_field(ops_user, currency):
    with pytest.raises(ValidationError) as excinfo:
        services.vendor_create(
            actor=ops_user, name="Delta", slug="delta", default_currency=currency
        )
    assert "default_currency" in _fields(excinfo)
    assert not Vendor.objects.filter(slug="delta").exists()


@pytest.mark.parametrize("country", ["P", "PRT", "P1", "Ñé"])
def test_vendor_create_rejects_bad_country_on_its_field(ops_user, country):
    with pytest.raises(ValidationError) as excinfo:
        services.vendor_create(actor=ops_user, name="Delta", slug="delta", country=country)
    assert "country" in _fields(excinfo)
    assert not Vendor.objects.filter(slug="delta").exists()


def test_vendor_create_rejects_duplicate_slug_and_name(ops_user, vendor_a):
    with pytest.raises(ValidationError) as excinfo:
        services.vendor_create(actor=ops_user, name="Other name", slug=vendor_a.slug)
    assert "slug" in _fields(excinfo)
    with pytest.raises(ValidationError) as excinfo:
        services.vendor_create(actor=ops_user, name=vendor_a.name, slug="other-slug")
    assert "name" in _fields(excinfo)
    assert Vendor.objects.count() == 1


# -- vendor managers ----------------------------------------------------------------------------


def test_vendor_manager_add_grants_object_permission_and_group(vendor_a, vendor_b):
    user = UserFactory(username="newmanager")
    membership = services.vendor_manager_add(actor=None, vendor=vendor_a, user=user)
    user = User.objects.get(pk=user.pk)  # drop permission caches
    assert membership.role == VendorMembership.Role.MANAGER
    assert user.has_perm(roles.MANAGE_VENDOR, vendor_a)
    assert not user.has_perm(roles.MANAGE_VENDOR, vendor_b)
    assert not user.has_perm(roles.MANAGE_VENDOR)  # object permission only, not global
    assert user.groups.filter(name=roles.VENDOR_MANAGERS).exists()
    assert list(selectors.managed_vendors(user)) == [vendor_a]


def test_vendor_manager_add_is_idempotent(vendor_a):
    user = UserFactory(username="newmanager")
    first = services.vendor_manager_add(actor=None, vendor=vendor_a, user=user)
    second = services.vendor_manager_add(actor=None, vendor=vendor_a, user=user)
    assert first.pk == second.pk
    assert VendorMembership.objects.filter(user=user).count() == 1
    assert get_perms(user, vendor_a) == [roles.MANAGE_VENDOR_CODENAME]
    assert user.groups.filter(name=roles.VENDOR_MANAGERS).count() == 1


def test_vendor_manager_remove_keeps_group_while_another_vendor_is_managed(vendor_a, vendor_b):
    user = UserFactory(username="twovendors")
    services.vendor_manager_add(actor=None, vendor=vendor_a, user=user)
    services.vendor_manager_add(actor=None, vendor=vendor_b, user=user)

    services.vendor_manager_remove(actor=None, vendor=vendor_a, user=user)
    user = User.objects.get(pk=user.pk)
    assert not user.has_perm(roles.MANAGE_VENDOR, vendor_a)
    assert user.has_perm(roles.MANAGE_VENDOR, vendor_b)
    assert user.groups.filter(name=roles.VENDOR_MANAGERS).exists()

    services.vendor_manager_remove(actor=None, vendor=vendor_b, user=user)
    user = User.objects.get(pk=user.pk)
    assert not VendorMembership.objects.filter(user=user).exists()
    assert not user.has_perm(roles.MANAGE_VENDOR, vendor_b)
    assert not user.groups.filter(name=roles.VENDOR_MANAGERS).exists()
    assert list(selectors.managed_vendors(user)) == []


# -- labeler_create -----------------------------------------------------------------------------


def _create(**kwargs) -> Labeler:
    defaults = {"actor": None, "username": "newbie", "kind": Labeler.Kind.INTERNAL}
    return services.labeler_create(**{**defaults, **kwargs})


def test_labeler_create_writes_user_profile_groups_and_first_history_row(ops_user, vendor_a):
    SkillFactory(slug="ner")
    SkillFactory(slug="ocr")
    labeler = _create(
        actor=ops_user,
        username="newbie",
        email="newbie@example.test",
        kind=Labeler.Kind.VENDOR,
        vendor=vendor_a,
        external_id="A-77",
        skills=["ocr", "ner", "ocr"],
        languages=["en", "pt-BR", "en"],
        timezone_name="Europe/Lisbon",
        seniority=Labeler.Seniority.SENIOR,
        password="pw-Labelforce-1",
    )
    labeler = Labeler.objects.get(pk=labeler.pk)
    assert labeler.status == S.INVITED
    assert labeler.status_changed_at is not None
    assert labeler.vendor == vendor_a
    assert labeler.languages == ["en", "pt-BR"]
    assert labeler.timezone == "Europe/Lisbon"
    assert sorted(labeler.skills.values_list("slug", flat=True)) == ["ner", "ocr"]
    assert labeler.user.check_password("pw-Labelforce-1")
    assert set(labeler.user.groups.values_list("name", flat=True)) == {
        roles.LABELERS,
        roles.SENIOR_LABELERS,
    }
    [row] = LabelerStatusChange.objects.filter(labeler=labeler)
    assert (row.from_status, row.to_status, row.actor) == ("", S.INVITED, ops_user)
    assert row.reason


def test_labeler_create_without_password_has_unusable_password(db):
    labeler = _create()
    assert not labeler.user.has_usable_password()
    assert not labeler.user.groups.filter(name=roles.SENIOR_LABELERS).exists()


@pytest.mark.parametrize(
    ("kind", "with_vendor"),
    [(Labeler.Kind.VENDOR, False), (Labeler.Kind.INTERNAL, True)],
    ids=["vendor-kind-without-vendor", "internal-kind-with-vendor"],
)
def test_labeler_create_rejects_kind_vendor_mismatch(vendor_a, kind, with_vendor):
    with pytest.raises(ValidationError) as excinfo:
        _create(kind=kind, vendor=vendor_a if with_vendor else None)
    assert "vendor" in _fields(excinfo)
    assert not User.objects.filter(username="newbie").exists()


def test_labeler_create_rejects_unknown_kind(db):
    with pytest.raises(ValidationError) as excinfo:
        _create(kind="contractor")
    assert "kind" in _fields(excinfo)


def test_labeler_create_rejects_duplicate_username(internal_labeler):
    with pytest.raises(ValidationError) as excinfo:
        _create(username=internal_labeler.user.username)
    assert "username" in _fields(excinfo)
    assert Labeler.objects.count() == 1


def test_labeler_create_rejects_external_id_clash_within_vendor(vendor_labeler):
    with pytest.raises(ValidationError) as excinfo:
        _create(kind=Labeler.Kind.VENDOR, vendor=vendor_labeler.vendor, external_id="A-001")
    assert "external_id" in _fields(excinfo)
    assert not User.objects.filter(username="newbie").exists()


def test_labeler_create_allows_same_external_id_at_another_vendor(vendor_labeler, vendor_b):
    other = _create(kind=Labeler.Kind.VENDOR, vendor=vendor_b, external_id="A-001")
    assert other.external_id == vendor_labeler.external_id
    assert other.vendor_id != vendor_labeler.vendor_id


def test_labeler_create_rejects_too_long_external_id(vendor_a):
    with pytest.raises(ValidationError) as excinfo:
        _create(kind=Labeler.Kind.VENDOR, vendor=vendor_a, external_id="x" * 65)
    assert "external_id" in _fields(excinfo)
    assert not Labeler.objects.exists()


def test_labeler_create_rejects_unknown_skill(db):
    SkillFactory(slug="ner")
    with pytest.raises(ValidationError) as excinfo:
        _create(skills=["ner", "telepathy"])
    assert "telepathy" in str(_fields(excinfo)["skills"])
    assert not User.objects.filter(username="newbie").exists()


@pytest.mark.parametrize("tz", ["Mars/Olympus", "utc+1", ""])
def test_labeler_create_rejects_bad_timezone(db, tz):
    with pytest.raises(ValidationError) as excinfo:
        _create(timezone_name=tz)
    assert "timezone" in _fields(excinfo)


@pytest.mark.parametrize("languages", [["english"], ["e"], ["en-"], ["en_US"], ["ñé"], "en", [5]])
def test_labeler_create_rejects_bad_language(db, languages):
    with pytest.raises(ValidationError) as excinfo:
        _create(languages=languages)
    assert "languages" in _fields(excinfo)
    assert not Labeler.objects.exists()


def test_labeler_create_rejects_suspended_vendor(vendor_a):
    services.vendor_suspend(actor=None, vendor=vendor_a, reason="test")
    with pytest.raises(ValidationError) as excinfo:
        _create(kind=Labeler.Kind.VENDOR, vendor=vendor_a)
    assert "vendor" in _fields(excinfo)
    assert not Labeler.objects.exists()


def test_labeler_create_rejects_bad_email_and_seniority(db):
    with pytest.raises(ValidationError) as excinfo:
        _create(email="not-an-email")
    assert "email" in _fields(excinfo)
    with pytest.raises(ValidationError) as excinfo:
        _create(seniority="guru")
    assert "seniority" in _fields(excinfo)
    assert not User.objects.filter(username="newbie").exists()


# -- labeler_update -----------------------------------------------------------------------------


def test_labeler_update_changes_attributes_and_sets_skills(ops_user, vendor_labeler):
    SkillFactory(slug="ner")
    SkillFactory(slug="ocr")
    services.labeler_update(actor=ops_user, labeler=vendor_labeler, data={"skills": ["ner", "ocr"]})
    services.labeler_update(
        actor=ops_user,
        labeler=vendor_labeler,
        data={
            "skills": ["ocr"],
            "languages": ["fr"],
            "timezone": "Asia/Tokyo",
            "first_name": "Ana",
            "external_id": "A-002",
        },
    )
    labeler = Labeler.objects.select_related("user").get(pk=vendor_labeler.pk)
    assert list(labeler.skills.values_list("slug", flat=True)) == ["ocr"]
    assert labeler.languages == ["fr"]
    assert labeler.timezone == "Asia/Tokyo"
    assert labeler.user.first_name == "Ana"
    assert labeler.external_id == "A-002"


@pytest.mark.parametrize("field", ["status", "public_code", "user", "id", "status_changed_at"])
def test_labeler_update_rejects_unknown_field(vendor_labeler, field):
    before = Labeler.objects.values().get(pk=vendor_labeler.pk)
    with pytest.raises(ValidationError) as excinfo:
        services.labeler_update(
            actor=None, labeler=vendor_labeler, data={field: "x", "first_name": "Zed"}
        )
    assert field in _fields(excinfo)
    assert Labeler.objects.values().get(pk=vendor_labeler.pk) == before
    assert User.objects.get(pk=vendor_labeler.user_id).first_name == ""


def test_labeler_update_rejects_external_id_clash(vendor_labeler, vendor_a):
    other = make_labeler(vendor=vendor_a, external_id="A-002")
    with pytest.raises(ValidationError) as excinfo:
        services.labeler_update(actor=None, labeler=other, data={"external_id": "A-001"})
    assert "external_id" in _fields(excinfo)
    assert Labeler.objects.get(pk=other.pk).external_id == "A-002"


def test_labeler_update_allows_keeping_own_external_id(vendor_labeler):
    services.labeler_update(
        actor=None, labeler=vendor_labeler, data={"external_id": "A-001", "last_name": "Q"}
    )
    assert Labeler.objects.get(pk=vendor_labeler.pk).user.last_name == "Q"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"skills": ["nope"]}, "skills"),
        ({"timezone": "Nowhere/City"}, "timezone"),
        ({"languages": ["xx_YY"]}, "languages"),
        ({"email": "bad"}, "email"),
        ({"first_name": "x" * 151}, "first_name"),
        ({"external_id": "x" * 65}, "external_id"),
        ({"seniority": "guru"}, "seniority"),
        ({"kind": Labeler.Kind.INTERNAL}, "vendor"),
        ({"vendor": None}, "vendor"),
    ],
)
def test_labeler_update_rejects_bad_values_and_writes_nothing(vendor_labeler, data, field):
    before = Labeler.objects.values().get(pk=vendor_labeler.pk)
    with pytest.raises(ValidationError) as excinfo:
        services.labeler_update(actor=None, labeler=vendor_labeler, data=data)
    assert field in _fields(excinfo)
    assert Labeler.objects.values().get(pk=vendor_labeler.pk) == before


def test_labeler_update_moves_labeler_between_kinds(ops_user, vendor_labeler):
    services.labeler_update(
        actor=ops_user,
        labeler=vendor_labeler,
        data={"kind": Labeler.Kind.INTERNAL, "vendor": None},
    )
    labeler = Labeler.objects.get(pk=vendor_labeler.pk)
    assert (labeler.kind, labeler.vendor_id) == (Labeler.Kind.INTERNAL, None)


def test_labeler_update_rejects_move_to_suspended_vendor(vendor_labeler, vendor_b):
    services.vendor_suspend(actor=None, vendor=vendor_b, reason="test")
    with pytest.raises(ValidationError) as excinfo:
        services.labeler_update(actor=None, labeler=vendor_labeler, data={"vendor": vendor_b})
    assert "vendor" in _fields(excinfo)
    assert Labeler.objects.get(pk=vendor_labeler.pk).vendor_id == vendor_labeler.vendor_id


def test_labeler_update_syncs_senior_group(vendor_labeler):
    def is_in_senior_group() -> bool:
        return vendor_labeler.user.groups.filter(name=roles.SENIOR_LABELERS).exists()

    services.labeler_update(actor=None, labeler=vendor_labeler, data={"seniority": "senior"})
    assert Labeler.objects.get(pk=vendor_labeler.pk).is_senior
    assert is_in_senior_group()
    services.labeler_update(actor=None, labeler=vendor_labeler, data={"seniority": "labeler"})
    assert not is_in_senior_group()


def test_labeler_update_with_stale_copy_does_not_write_status_back(vendor_labeler):
    stale = Labeler.objects.select_related("user").get(pk=vendor_labeler.pk)
    services.labeler_suspend(actor=None, labeler=vendor_labeler, reason="quality")
    services.labeler_update(actor=None, labeler=stale, data={"timezone": "Asia/Tokyo"})
    fresh = Labeler.objects.get(pk=vendor_labeler.pk)
    assert fresh.status == S.SUSPENDED
    assert fresh.timezone == "Asia/Tokyo"


# -- labeler_transition -------------------------------------------------------------------------

LEGAL = sorted((src, dst) for src, dsts in services.ALLOWED_TRANSITIONS.items() for dst in dsts)
ILLEGAL = sorted(
    (src, dst)
    for src, dst in itertools.product(S.values, S.values)
    if dst not in services.ALLOWED_TRANSITIONS[src]
)


def test_lifecycle_table_matches_the_design():
    """invited → onboarding → active ⇄ suspended → offboarded; invitation and onboarding may be
    withdrawn; offboarding is final."""
    assert set(LEGAL) == {
        (S.INVITED, S.ONBOARDING),
        (S.INVITED, S.OFFBOARDED),
        (S.ONBOARDING, S.ACTIVE),
        (S.ONBOARDING, S.OFFBOARDED),
        (S.ACTIVE, S.SUSPENDED),
        (S.ACTIVE, S.OFFBOARDED),
        (S.SUSPENDED, S.ACTIVE),
        (S.SUSPENDED, S.OFFBOARDED),
    }


@pytest.mark.parametrize(("src", "dst"), LEGAL, ids=[f"{a}->{b}" for a, b in LEGAL])
def test_every_legal_transition_is_recorded(ops_user, vendor_a, src, dst):
    labeler = make_labeler(vendor=vendor_a, status=src)
    rows_before = labeler.status_changes.count()
    result = services.labeler_transition(
        actor=ops_user, labeler=labeler, to_status=dst, reason="  because  "
    )
    assert result.status == dst
    assert Labeler.objects.get(pk=labeler.pk).status == dst
    assert labeler.status_changes.count() == rows_before + 1
    row = labeler.status_changes.order_by("-id").first()
    assert (row.from_status, row.to_status, row.actor, row.reason) == (
        src,
        dst,
        ops_user,
        "because",
    )


@pytest.mark.parametrize(("src", "dst"), ILLEGAL, ids=[f"{a}->{b}" for a, b in ILLEGAL])
def test_every_illegal_transition_raises(vendor_a, src, dst):
    labeler = make_labeler(vendor=vendor_a, status=src)
    rows_before = labeler.status_changes.count()
    with pytest.raises(InvalidTransition):
        services.labeler_transition(actor=None, labeler=labeler, to_status=dst, reason="try")
    assert Labeler.objects.get(pk=labeler.pk).status == src
    assert labeler.status_changes.count() == rows_before


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_transition_requires_a_reason(vendor_labeler, reason):
    with pytest.raises(ValidationError) as excinfo:
        services.labeler_transition(
            actor=None, labeler=vendor_labeler, to_status=S.SUSPENDED, reason=reason
        )
    assert "reason" in _fields(excinfo)
    assert Labeler.objects.get(pk=vendor_labeler.pk).status == S.ACTIVE


def test_transition_rejects_unknown_status(vendor_labeler):
    with pytest.raises(ValidationError) as excinfo:
        services.labeler_transition(
            actor=None, labeler=vendor_labeler, to_status="retired", reason="x"
        )
    assert "status" in _fields(excinfo)


def test_offboarding_deactivates_the_login_and_deletes_its_token(manager_a, vendor_labeler):
    token = Token.objects.create(user=vendor_labeler.user)
    other = make_labeler(vendor=vendor_labeler.vendor)
    other_token = Token.objects.create(user=other.user)

    services.labeler_offboard(actor=manager_a, labeler=vendor_labeler, reason="contract ended")

    assert not User.objects.get(pk=vendor_labeler.user_id).is_active
    assert not Token.objects.filter(pk=token.pk).exists()
    assert Token.objects.filter(pk=other_token.pk).exists()
    assert User.objects.get(pk=other.user_id).is_active


def test_suspension_keeps_the_login(vendor_labeler):
    token = Token.objects.create(user=vendor_labeler.user)
    services.labeler_suspend(actor=None, labeler=vendor_labeler, reason="quality")
    assert User.objects.get(pk=vendor_labeler.user_id).is_active
    assert Token.objects.filter(pk=token.pk).exists()


def test_stale_labeler_gets_conflict_not_an_overwrite(vendor_labeler):
    stale = Labeler.objects.get(pk=vendor_labeler.pk)  # read while active
    services.labeler_suspend(actor=None, labeler=vendor_labeler, reason="first change")
    rows = vendor_labeler.status_changes.count()

    with pytest.raises(Conflict) as excinfo:
        services.labeler_offboard(actor=None, labeler=stale, reason="second change")
    assert excinfo.value.status == 409
    assert not isinstance(excinfo.value, InvalidTransition)
    assert Labeler.objects.get(pk=vendor_labeler.pk).status == S.SUSPENDED
    assert vendor_labeler.status_changes.count() == rows
    assert User.objects.get(pk=vendor_labeler.user_id).is_active


def test_reactivate_only_from_suspended(vendor_labeler):
    with pytest.raises(InvalidTransition):
        services.labeler_reactivate(actor=None, labeler=vendor_labeler, reason="x")
    services.labeler_suspend(actor=None, labeler=vendor_labeler, reason="x")
    labeler = services.labeler_reactivate(actor=None, labeler=vendor_labeler, reason="back")
    assert labeler.status == S.ACTIVE


def test_activate_from_invited_goes_through_onboarding(ops_user, vendor_a):
    labeler = make_labeler(vendor=vendor_a, status=S.INVITED)
    labeler = services.labeler_activate(actor=ops_user, labeler=labeler, reason="trained")
    assert labeler.status == S.ACTIVE
    assert _history(labeler) == [
        ("", S.INVITED),
        (S.INVITED, S.ONBOARDING),
        (S.ONBOARDING, S.ACTIVE),
    ]


@pytest.mark.parametrize("status", [S.ACTIVE, S.SUSPENDED, S.OFFBOARDED])
def test_activate_from_other_statuses_is_invalid(vendor_a, status):
    labeler = make_labeler(vendor=vendor_a, status=status)
    with pytest.raises(InvalidTransition):
        services.labeler_activate(actor=None, labeler=labeler, reason="x")
    assert Labeler.objects.get(pk=labeler.pk).status == status


# -- labeler_move_to_status ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "goal", "steps"),
    [
        (S.INVITED, S.ACTIVE, [S.ONBOARDING, S.ACTIVE]),
        (S.INVITED, S.SUSPENDED, [S.ONBOARDING, S.ACTIVE, S.SUSPENDED]),
        (S.ONBOARDING, S.OFFBOARDED, [S.OFFBOARDED]),
        (S.SUSPENDED, S.ACTIVE, [S.ACTIVE]),
        (S.ACTIVE, S.ACTIVE, []),
    ],
)
def test_move_to_status_walks_the_shortest_legal_path(vendor_a, start, goal, steps):
    labeler = make_labeler(vendor=vendor_a, status=start)
    before = len(_history(labeler))
    labeler = services.labeler_move_to_status(
        actor=None, labeler=labeler, to_status=goal, reason="import"
    )
    assert Labeler.objects.get(pk=labeler.pk).status == goal
    assert [to for _, to in _history(labeler)[before:]] == steps


@pytest.mark.parametrize(
    ("start", "goal"),
    [
        (S.OFFBOARDED, S.ACTIVE),
        (S.ACTIVE, S.INVITED),
        (S.ACTIVE, S.ONBOARDING),
        (S.SUSPENDED, S.INVITED),
    ],
)
def test_move_to_status_without_a_path_raises(vendor_a, start, goal):
    labeler = make_labeler(vendor=vendor_a, status=start)
    with pytest.raises(InvalidTransition):
        services.labeler_move_to_status(
            actor=None, labeler=labeler, to_status=goal, reason="import"
        )
    assert Labeler.objects.get(pk=labeler.pk).status == start


def test_move_to_status_rejects_unknown_status(vendor_labeler):
    with pytest.raises(ValidationError):
        services.labeler_move_to_status(
            actor=None, labeler=vendor_labeler, to_status="retired", reason="import"
        )


# -- database constraints -----------------------------------------------------------------------


def test_db_rejects_vendor_labeler_without_vendor(db):
    user = UserFactory(username="orm-only")
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        Labeler.objects.create(user=user, kind=Labeler.Kind.VENDOR, vendor=None)
    assert "workforce_labeler_vendor_matches_kind" in str(excinfo.value)


def test_db_rejects_internal_labeler_with_vendor(vendor_a):
    user = UserFactory(username="orm-only")
    with pytest.raises(IntegrityError), transaction.atomic():
        Labeler.objects.create(user=user, kind=Labeler.Kind.INTERNAL, vendor=vendor_a)


def test_db_rejects_duplicate_external_id_within_vendor(vendor_labeler, vendor_b):
    with pytest.raises(IntegrityError), transaction.atomic():
        Labeler.objects.create(
            user=UserFactory(username="orm-dup"),
            kind=Labeler.Kind.VENDOR,
            vendor=vendor_labeler.vendor,
            external_id=vendor_labeler.external_id,
        )
    # the same id at another vendor, and blank ids within one vendor, are fine
    Labeler.objects.create(
        user=UserFactory(username="orm-b"),
        kind=Labeler.Kind.VENDOR,
        vendor=vendor_b,
        external_id=vendor_labeler.external_id,
    )
    for name in ("orm-blank-1", "orm-blank-2"):
        Labeler.objects.create(
            user=UserFactory(username=name), kind=Labeler.Kind.VENDOR, vendor=vendor_b
        )


def test_db_rejects_lower_case_currency(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        Vendor.objects.create(name="Lower", slug="lower", default_currency="usd")


def test_db_rejects_unknown_labeler_status(internal_labeler):
    with pytest.raises(IntegrityError), transaction.atomic():
        Labeler.objects.filter(pk=internal_labeler.pk).update(status="retired")


def test_role_groups_exist_after_migrate(db):
    assert set(Group.objects.values_list("name", flat=True)) >= set(roles.ALL_GROUPS)


# -- real races on PostgreSQL -------------------------------------------------------------------


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_racing_transitions_one_wins_the_other_conflicts(vendor_a):
    labeler = make_labeler(vendor=vendor_a, status=S.ACTIVE)
    rows_before = labeler.status_changes.count()
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def attempt(to_status: str) -> None:
        try:
            copy = Labeler.objects.get(pk=labeler.pk)  # each thread reads "active"
            barrier.wait(timeout=10)
            services.labeler_transition(
                actor=None, labeler=copy, to_status=to_status, reason=f"race to {to_status}"
            )
            outcomes[to_status] = "won"
        except Conflict as exc:
            outcomes[to_status] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(s,)) for s in (S.SUSPENDED, S.OFFBOARDED)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert len(outcomes) == 2
    [winner] = [s for s, v in outcomes.items() if v == "won"]
    [loser] = [v for v in outcomes.values() if v != "won"]
    assert isinstance(loser, Conflict)
    assert loser.status == 409
    assert Labeler.objects.get(pk=labeler.pk).status == winner
    new_rows = labeler.status_changes.count() - rows_before
    assert new_rows == 1
    assert labeler.status_changes.order_by("-id").first().to_status == winner
