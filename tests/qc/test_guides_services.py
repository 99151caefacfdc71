"""Guide services and selectors: drafts, numbering on publish, immutability, acknowledgements
and what a labeler must acknowledge or is told has changed."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from config.errors import Conflict
from qc.models import GuideAcknowledgement, GuideVersion
from qc.selectors.guides import (
    guide_ack_missing,
    guide_acknowledgement_list_for,
    guide_current_version,
    guide_states_for,
    guide_unacknowledged_labelers_for,
    guide_version_published_by_number,
)
from qc.services import guides as services
from tests.conftest import requires_postgres
from tests.factories import make_labeler
from tests.qc.factories import GuideFactory, acknowledge, make_draft, publish_version
from workforce.models import Labeler

pytestmark = pytest.mark.django_db

MAJOR, MINOR = GuideVersion.Bump.MAJOR, GuideVersion.Bump.MINOR


@pytest.fixture
def guide(db):
    return GuideFactory(slug="poles", name="Utility poles")


# -- guides ---------------------------------------------------------------------------------------


def test_guide_create_and_taken_slug(ops_user):
    guide = services.guide_create(actor=ops_user, slug="poles", name="Poles")
    assert guide.pk and guide.slug == "poles"
    with pytest.raises(ValidationError) as exc:
        services.guide_create(actor=ops_user, slug="poles", name="Other")
    assert "slug" in exc.value.message_dict


def test_guide_create_rejects_blank_name_and_bad_slug():
    with pytest.raises(ValidationError) as exc:
        services.guide_create(actor=None, slug="not a slug", name="")
    assert {"slug", "name"} <= set(exc.value.message_dict)


def test_guide_update_changes_name_but_not_slug(guide):
    services.guide_update(actor=None, guide=guide, data={"name": "Poles v2"})
    guide.refresh_from_db()
    assert guide.name == "Poles v2"
    with pytest.raises(ValidationError) as exc:
        services.guide_update(actor=None, guide=guide, data={"slug": "other"})
    assert "slug" in exc.value.message_dict


# -- drafts ---------------------------------------------------------------------------------------


def test_draft_has_no_number_and_keeps_its_fields(guide, ops_user):
    draft = services.guide_version_create(
        actor=ops_user,
        guide=guide,
        body="# Poles",
        bump=MAJOR,
        label_definitions=[{"label": " crack ", "definition": "A fracture."}],
        change_summary="  First.  ",
    )
    assert (draft.status, draft.major, draft.minor, draft.number) == ("draft", None, None, "draft")
    assert draft.created_by == ops_user
    assert draft.label_definitions == [
        {"label": "crack", "definition": "A fracture.", "examples": []}
    ]
    assert draft.change_summary == "First."


@pytest.mark.parametrize(
    ("definitions", "message"),
    [
        ({"label": "x"}, "Expected a list"),
        (["crack"], "expected an object"),
        ([{"label": "", "definition": "d"}], "label must be a non-empty string"),
        ([{"label": "a", "definition": ""}], "definition must be a non-empty string"),
        ([{"label": "a", "definition": "d", "examples": "img.jpg"}], "examples must be a list"),
        ([{"label": "a", "definition": "d", "examples": [1]}], "examples must be a list"),
        ([{"label": "a", "definition": "d", "colour": "red"}], "unknown keys colour"),
        (
            [{"label": "a", "definition": "d"}, {"label": "a", "definition": "e"}],
            "defined twice",
        ),
    ],
)
def test_label_definitions_are_validated(guide, definitions, message):
    with pytest.raises(ValidationError) as exc:
        services.guide_version_create(
            actor=None, guide=guide, body="text", label_definitions=definitions
        )
    assert message in " ".join(exc.value.message_dict["label_definitions"])


def test_draft_needs_a_body_and_a_known_bump(guide):
    with pytest.raises(ValidationError) as exc:
        services.guide_version_create(actor=None, guide=guide, body="  ", bump="huge")
    assert {"body", "bump"} <= set(exc.value.message_dict)
    assert not GuideVersion.objects.exists()


def test_draft_update_changes_a_draft(guide):
    draft = make_draft(guide)
    services.guide_version_update(
        actor=None, version=draft, data={"body": "New text", "bump": MAJOR}
    )
    draft.refresh_from_db()
    assert (draft.body, draft.bump) == ("New text", MAJOR)


def test_draft_update_rejects_unknown_and_invalid_fields(guide):
    draft = make_draft(guide)
    with pytest.raises(ValidationError) as exc:
        services.guide_version_update(actor=None, version=draft, data={"major": 7})
    assert "major" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.guide_version_update(actor=None, version=draft, data={"label_definitions": 3})
    assert "label_definitions" in exc.value.message_dict


def test_published_version_is_immutable(guide):
    version = publish_version(guide)
    with pytest.raises(Conflict) as exc:
        services.guide_version_update(actor=None, version=version, data={"body": "Sneaky edit"})
    assert exc.value.code == "version_published"
    version.refresh_from_db()
    assert version.body != "Sneaky edit"
    with pytest.raises(Conflict):
        services.guide_version_discard(actor=None, version=version)
    assert GuideVersion.objects.filter(pk=version.pk).exists()


def test_stale_draft_copy_cannot_edit_a_version_published_meanwhile(guide):
    draft = make_draft(guide)
    stale = GuideVersion.objects.get(pk=draft.pk)
    services.guide_version_publish(actor=None, version=draft)
    assert stale.status == "draft"  # the caller's copy still says draft
    with pytest.raises(Conflict):
        services.guide_version_update(actor=None, version=stale, data={"body": "x"})


def test_discard_deletes_a_draft(guide):
    draft = make_draft(guide)
    services.guide_version_discard(actor=None, version=draft)
    assert not GuideVersion.objects.filter(pk=draft.pk).exists()


# -- publishing -----------------------------------------------------------------------------------


def test_numbering_first_then_minor_then_major_then_minor(guide, ops_user):
    first = publish_version(guide, bump=MAJOR, actor=ops_user)  # the first is 1.0 either way
    assert first.number == "1.0"
    assert first.published_by == ops_user and first.published_at is not None
    assert publish_version(guide, bump=MINOR).number == "1.1"
    assert publish_version(guide, bump=MINOR).number == "1.2"
    assert publish_version(guide, bump=MAJOR).number == "2.0"
    assert publish_version(guide, bump=MINOR).number == "2.1"
    assert guide_current_version(guide=guide).number == "2.1"


def test_first_minor_publish_is_one_zero(guide):
    assert publish_version(guide, bump=MINOR).number == "1.0"


def test_numbers_are_per_guide(guide):
    other = GuideFactory(slug="other")
    publish_version(guide)
    publish_version(guide)
    assert publish_version(other).number == "1.0"


def test_publishing_twice_is_a_conflict(guide):
    version = publish_version(guide)
    with pytest.raises(Conflict) as exc:
        services.guide_version_publish(actor=None, version=version)
    assert exc.value.code == "version_published"
    version.refresh_from_db()
    assert version.number == "1.0"


def test_drafts_are_numbered_in_publication_order_not_creation_order(guide):
    older = make_draft(guide, bump=MAJOR)
    newer = make_draft(guide, bump=MINOR)
    assert services.guide_version_publish(actor=None, version=newer).number == "1.0"
    assert services.guide_version_publish(actor=None, version=older).number == "2.0"


def test_version_by_number(guide):
    publish_version(guide)
    v11 = publish_version(guide)
    make_draft(guide)
    assert guide_version_published_by_number(guide=guide, number="1.1") == v11
    assert guide_version_published_by_number(guide=guide, number="1.5") is None
    assert guide_version_published_by_number(guide=guide, number="one") is None


# -- acknowledgements -----------------------------------------------------------------------------


def test_acknowledging_nothing_published_is_a_conflict(guide, vendor_labeler):
    make_draft(guide)
    with pytest.raises(Conflict) as exc:
        acknowledge(vendor_labeler, guide)
    assert exc.value.code == "nothing_published"
    assert not GuideAcknowledgement.objects.exists()


def test_acknowledge_is_idempotent(guide, vendor_labeler):
    version = publish_version(guide)
    first = acknowledge(vendor_labeler, guide)
    again = acknowledge(vendor_labeler, guide)
    assert first.pk == again.pk
    assert first.version == version
    assert GuideAcknowledgement.objects.filter(labeler=vendor_labeler).count() == 1


def test_acknowledges_the_current_version(guide, vendor_labeler):
    publish_version(guide)
    current = publish_version(guide)
    assert acknowledge(vendor_labeler, guide).version == current


def test_minor_version_does_not_require_a_new_acknowledgement(guide, vendor_labeler):
    publish_version(guide)
    assert guide_ack_missing(labeler=vendor_labeler, guide=guide).number == "1.0"
    acknowledge(vendor_labeler, guide)
    assert guide_ack_missing(labeler=vendor_labeler, guide=guide) is None
    publish_version(guide, bump=MINOR)
    assert guide_ack_missing(labeler=vendor_labeler, guide=guide) is None


def test_major_version_requires_acknowledging_again(guide, vendor_labeler):
    publish_version(guide)
    acknowledge(vendor_labeler, guide)
    v2 = publish_version(guide, bump=MAJOR)
    assert guide_ack_missing(labeler=vendor_labeler, guide=guide) == v2
    acknowledge(vendor_labeler, guide)
    assert guide_ack_missing(labeler=vendor_labeler, guide=guide) is None


def test_acknowledging_a_minor_version_covers_the_major_line(guide, vendor_labeler):
    publish_version(guide)
    v11 = publish_version(guide, bump=MINOR)
    ack = acknowledge(vendor_labeler, guide)
    assert ack.version == v11
    assert guide_ack_missing(labeler=vendor_labeler, guide=guide) is None


# -- what a labeler is shown ----------------------------------------------------------------------


def test_state_lists_minor_changes_since_the_last_acknowledgement(guide, vendor_labeler):
    publish_version(guide, change_summary="First.")
    acknowledge(vendor_labeler, guide)
    publish_version(guide, bump=MINOR, change_summary="Clarified rust.")
    publish_version(guide, bump=MINOR, change_summary="New example.")
    state = guide_states_for(actor=vendor_labeler.user, guides=[guide])[guide.pk]
    assert state.current.number == "1.2"
    assert state.must_acknowledge is False
    assert state.acknowledged_version.number == "1.0"
    assert [(v.number, v.change_summary) for v in state.changes_since_ack] == [
        ("1.2", "New example."),
        ("1.1", "Clarified rust."),
    ]

    acknowledge(vendor_labeler, guide)  # reading 1.2 clears the list
    state = guide_states_for(actor=vendor_labeler.user, guides=[guide])[guide.pk]
    assert state.acknowledged_version.number == "1.2"
    assert state.changes_since_ack == []


def test_state_after_a_major_bump_must_acknowledge_and_lists_it(guide, vendor_labeler):
    publish_version(guide)
    acknowledge(vendor_labeler, guide)
    publish_version(guide, bump=MAJOR, change_summary="Rewritten.")
    state = guide_states_for(actor=vendor_labeler.user, guides=[guide])[guide.pk]
    assert state.must_acknowledge is True
    assert (state.must_acknowledge is True) == (
        guide_ack_missing(labeler=vendor_labeler, guide=guide) is not None
    )
    assert [v.number for v in state.changes_since_ack] == ["2.0"]


def test_state_for_a_labeler_who_never_acknowledged(guide, vendor_labeler):
    publish_version(guide)
    state = guide_states_for(actor=vendor_labeler.user, guides=[guide])[guide.pk]
    assert state.must_acknowledge is True
    assert state.acknowledged_version is None
    assert state.changes_since_ack == []


def test_state_for_a_caller_who_is_not_a_labeler(guide, manager_a):
    publish_version(guide)
    state = guide_states_for(actor=manager_a, guides=[guide])[guide.pk]
    assert state.current.number == "1.0"
    assert state.must_acknowledge is None


def test_state_of_many_guides_costs_a_constant_number_of_queries(
    vendor_labeler, django_assert_max_num_queries
):
    guides = [GuideFactory() for _ in range(6)]
    for g in guides:
        publish_version(g)
        publish_version(g)
        acknowledge(vendor_labeler, g)
    user = type(vendor_labeler.user).objects.get(pk=vendor_labeler.user_id)  # no cached profile
    with django_assert_max_num_queries(3):
        states = guide_states_for(actor=user, guides=guides)
    assert all(s.must_acknowledge is False for s in states.values())


# -- who has and has not acknowledged -------------------------------------------------------------


@pytest.fixture
def acks_world(guide, vendor_a, vendor_b, vendor_labeler, vendor_b_labeler, internal_labeler):
    publish_version(guide)
    acknowledge(vendor_labeler, guide)
    acknowledge(vendor_b_labeler, guide)
    late = make_labeler(vendor=vendor_a, username="late_a")
    gone = make_labeler(vendor=vendor_a, username="gone_a", status=Labeler.Status.OFFBOARDED)
    return {"late": late, "gone": gone}


def test_acknowledgements_are_scoped(guide, acks_world, ops_user, manager_a, vendor_labeler):
    assert guide_acknowledgement_list_for(actor=ops_user, guide=guide).count() == 2
    assert [a.labeler for a in guide_acknowledgement_list_for(actor=manager_a, guide=guide)] == [
        vendor_labeler
    ]


def test_unacknowledged_are_scoped_and_skip_offboarded(
    guide, acks_world, ops_user, manager_a, manager_b, internal_labeler
):
    late = acks_world["late"]
    assert set(guide_unacknowledged_labelers_for(actor=ops_user, guide=guide)) == {
        late,
        internal_labeler,
    }
    assert list(guide_unacknowledged_labelers_for(actor=manager_a, guide=guide)) == [late]
    assert list(guide_unacknowledged_labelers_for(actor=manager_b, guide=guide)) == []


def test_major_bump_puts_everyone_back_on_the_unacknowledged_list(
    guide, acks_world, ops_user, vendor_labeler, vendor_b_labeler
):
    publish_version(guide, bump=MINOR)
    assert vendor_labeler not in guide_unacknowledged_labelers_for(actor=ops_user, guide=guide)
    publish_version(guide, bump=MAJOR)
    missing = set(guide_unacknowledged_labelers_for(actor=ops_user, guide=guide))
    assert {vendor_labeler, vendor_b_labeler} <= missing


# -- concurrency (PostgreSQL) ---------------------------------------------------------------------


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_publications_take_distinct_numbers(monkeypatch):
    """A has read the current number and not yet written its own when B publishes: B must wait
    for A (the guide's row lock) and number after it, rather than take the same number."""
    guide = GuideFactory(slug="race")
    publish_version(guide)
    first, second = make_draft(guide, bump=MINOR), make_draft(guide, bump=MINOR)
    a_has_read, release = threading.Event(), threading.Event()
    real = services.guide_current_version

    def slow_for_a(*, guide):
        current = real(guide=guide)
        if threading.current_thread().name == "A":
            a_has_read.set()
            release.wait(5)
        return current

    monkeypatch.setattr(services, "guide_current_version", slow_for_a)
    errors: list[BaseException] = []

    def publish(draft):
        try:
            services.guide_version_publish(actor=None, version=draft)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    a = threading.Thread(target=publish, args=(first,), name="A")
    b = threading.Thread(target=publish, args=(second,), name="B")
    a.start()
    assert a_has_read.wait(5)
    b.start()
    b.join(0.5)
    assert b.is_alive()  # B waits for A
    release.set()
    a.join()
    b.join()
    assert errors == []
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.number, second.number) == ("1.1", "1.2")
