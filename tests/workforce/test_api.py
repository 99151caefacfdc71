"""API v1 behaviour beyond who may call what: list scoping, filters, pagination, creation,
mass assignment, seniority, transitions and history."""

from __future__ import annotations

import base64

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config.api import CursorPage
from tests.factories import SkillFactory, make_labeler
from workforce import roles, services
from workforce.models import Labeler, LabelerStatusChange, User

pytestmark = pytest.mark.django_db

S = Labeler.Status
ERROR_KEYS = {"detail", "code", "fields"}


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def _assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == ERROR_KEYS
    if code is not None:
        assert body["code"] == code
    return body


def _snapshot(labeler: Labeler) -> tuple[dict, dict, list]:
    return (
        Labeler.objects.values().get(pk=labeler.pk),
        User.objects.values().get(pk=labeler.user_id),
        list(LabelerStatusChange.objects.filter(labeler=labeler).values_list("id", flat=True)),
    )


@pytest.fixture
def population(vendor_a, vendor_b, vendor_labeler, vendor_b_labeler, internal_labeler):
    """Labelers of A in several states and skills, plus B's and an internal one."""
    a_suspended = make_labeler(vendor=vendor_a, status=S.SUSPENDED, skills=("ner",))
    a_invited = make_labeler(vendor=vendor_a, status=S.INVITED, skills=("ocr",))
    a_senior = make_labeler(vendor=vendor_a, seniority="senior", skills=("ner", "ocr"))
    b_ner = make_labeler(vendor=vendor_b, skills=("ner",))
    return {
        "a": {vendor_labeler.pk, a_suspended.pk, a_invited.pk, a_senior.pk},
        "a_suspended": a_suspended,
        "a_invited": a_invited,
        "a_senior": a_senior,
        "b": {vendor_b_labeler.pk, b_ner.pk},
        "internal": {internal_labeler.pk},
    }


# -- list scoping and filters -------------------------------------------------------------------


def test_manager_sees_exactly_their_vendors_labelers(client_for, manager_a, population):
    assert _ids(client_for(manager_a).get("/api/v1/labelers/")) == population["a"]


def test_ops_sees_every_labeler(client_for, ops_user, population):
    expected = population["a"] | population["b"] | population["internal"]
    assert _ids(client_for(ops_user).get("/api/v1/labelers/")) == expected


def test_filter_by_status(client_for, manager_a, population):
    client = client_for(manager_a)
    assert _ids(client.get("/api/v1/labelers/", {"status": "suspended"})) == {
        population["a_suspended"].pk
    }
    both = client.get("/api/v1/labelers/?status=suspended&status=invited")
    assert _ids(both) == {population["a_suspended"].pk, population["a_invited"].pk}


def test_filter_by_skill_stays_within_scope(client_for, manager_a, population):
    response = client_for(manager_a).get("/api/v1/labelers/", {"skill": "ner"})
    assert _ids(response) == {population["a_suspended"].pk, population["a_senior"].pk}


def test_filter_by_kind_and_vendor(client_for, ops_user, population):
    client = client_for(ops_user)
    assert _ids(client.get("/api/v1/labelers/", {"kind": "internal"})) == population["internal"]
    assert _ids(client.get("/api/v1/labelers/", {"kind": "vendor"})) == (
        population["a"] | population["b"]
    )
    assert _ids(client.get("/api/v1/labelers/", {"vendor": "bravo"})) == population["b"]


def test_manager_filtering_by_other_vendor_gets_nothing(client_for, manager_a, population):
    # Another vendor is "unknown" to a manager: the same 400 as a vendor that does not exist.
    reply = client_for(manager_a).get("/api/v1/labelers/", {"vendor": "bravo"})
    assert reply.status_code == 400 and "vendor" in reply.json()["fields"]


@pytest.mark.parametrize(
    ("param", "value"),
    [("status", "retired"), ("kind", "robot"), ("skill", "telepathy"), ("seniority", "guru")],
)
def test_bad_filter_value_is_a_400_in_the_error_shape(client_for, ops_user, param, value):
    SkillFactory(slug="ner")
    body = _assert_error(
        client_for(ops_user).get("/api/v1/labelers/", {param: value}), 400, "invalid"
    )
    assert param in body["fields"]


def test_labeler_list_query_count_does_not_grow_with_rows(client_for, manager_a, vendor_a):
    client = client_for(manager_a)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/api/v1/labelers/").status_code == 200
        return len(ctx.captured_queries)

    make_labeler(vendor=vendor_a, skills=("ner",))
    few = count()
    for _ in range(6):
        make_labeler(vendor=vendor_a, skills=("ner", "ocr"))
    assert count() == few


# -- pagination ---------------------------------------------------------------------------------


@pytest.fixture
def five_labelers(vendor_a):
    return [make_labeler(vendor=vendor_a).pk for _ in range(5)]


def test_huge_page_size_is_clamped(client_for, ops_user, five_labelers, monkeypatch):
    monkeypatch.setattr(CursorPage, "max_page_size", 2)
    response = client_for(ops_user).get("/api/v1/labelers/", {"page_size": "100000"})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 2
    assert response.json()["next"]


def test_non_numeric_page_size_is_a_400_naming_it(client_for, ops_user, five_labelers):
    # Ignoring it silently would hand the caller a page size they did not ask for (docs/api.md).
    response = client_for(ops_user).get("/api/v1/labelers/", {"page_size": "abc"})
    assert response.status_code == 400
    assert "page_size" in response.json()["fields"]


def test_following_next_links_visits_every_labeler_once(client_for, ops_user, five_labelers):
    client = client_for(ops_user)
    seen: list[int] = []
    url = "/api/v1/labelers/?page_size=2"
    while url:
        body = client.get(url).json()
        seen.extend(row["id"] for row in body["results"])
        url = body["next"]
    assert sorted(seen) == sorted(five_labelers)


def _cursor(raw: str) -> str:
    return base64.b64encode(raw.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        _cursor("o=0&r=0&p=abc"),
        _cursor("p=1.5"),
        _cursor("p=99999999999999999999999"),
        _cursor("p=-99999999999999999999999"),
        _cursor("o=x"),
        "%%%",
    ],
)
def test_tampered_cursor_is_an_error_not_a_500(client_for, ops_user, five_labelers, cursor):
    client = client_for(ops_user)
    client.raise_request_exception = False
    response = client.get("/api/v1/labelers/", {"cursor": cursor})
    assert response.status_code in (400, 404)
    assert set(response.json()) == ERROR_KEYS


# -- create -------------------------------------------------------------------------------------


def test_manager_create_implies_vendor_and_kind(client_for, manager_a, vendor_a):
    response = client_for(manager_a).post(
        "/api/v1/labelers/",
        {"username": "newbie", "external_id": "A-9", "timezone": "Europe/Lisbon"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["vendor"], body["kind"], body["status"]) == ("acme", "vendor", "invited")
    labeler = Labeler.objects.get(pk=body["id"])
    assert (labeler.vendor, labeler.kind, labeler.timezone) == (
        vendor_a,
        Labeler.Kind.VENDOR,
        "Europe/Lisbon",
    )
    assert labeler.status_changes.get().actor == manager_a


def test_manager_create_naming_own_vendor(client_for, manager_a, vendor_a):
    response = client_for(manager_a).post(
        "/api/v1/labelers/", {"username": "newbie", "vendor": "acme"}, format="json"
    )
    assert response.status_code == 201
    assert Labeler.objects.get(pk=response.json()["id"]).vendor == vendor_a


def test_manager_create_with_other_vendors_slug_is_a_field_error(client_for, manager_a, vendor_b):
    response = client_for(manager_a).post(
        "/api/v1/labelers/", {"username": "newbie", "vendor": "bravo"}, format="json"
    )
    assert "vendor" in _assert_error(response, 400, "invalid")["fields"]
    assert not User.objects.filter(username="newbie").exists()


def test_manager_of_two_vendors_must_name_one(client_for, manager_a, vendor_b):
    services.vendor_manager_add(actor=None, vendor=vendor_b, user=manager_a)
    client = client_for(manager_a)
    response = client.post("/api/v1/labelers/", {"username": "newbie"}, format="json")
    assert "vendor" in _assert_error(response, 400)["fields"]
    response = client.post(
        "/api/v1/labelers/", {"username": "newbie", "vendor": "bravo"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["vendor"] == "bravo"


def test_ops_create_infers_kind_from_vendor(client_for, ops_user, vendor_b):
    client = client_for(ops_user)
    vendor_one = client.post(
        "/api/v1/labelers/", {"username": "v1", "vendor": "bravo"}, format="json"
    )
    internal = client.post("/api/v1/labelers/", {"username": "i1"}, format="json")
    assert (vendor_one.status_code, internal.status_code) == (201, 201)
    assert (vendor_one.json()["kind"], vendor_one.json()["vendor"]) == ("vendor", "bravo")
    assert (internal.json()["kind"], internal.json()["vendor"]) == ("internal", None)


def test_ops_create_vendor_kind_without_vendor_is_a_field_error(client_for, ops_user):
    response = client_for(ops_user).post(
        "/api/v1/labelers/", {"username": "v1", "kind": "vendor"}, format="json"
    )
    assert "vendor" in _assert_error(response, 400)["fields"]


def test_create_with_taken_username_is_a_field_error(client_for, manager_a, vendor_labeler):
    response = client_for(manager_a).post(
        "/api/v1/labelers/", {"username": vendor_labeler.user.username}, format="json"
    )
    assert "username" in _assert_error(response, 400)["fields"]


# -- mass assignment ----------------------------------------------------------------------------

FORBIDDEN_FOR_MANAGER = {
    "vendor": "bravo",
    "kind": "internal",
    "status": "active",
    "seniority": "senior",
    "public_code": "L-HACKED",
    "id": 424242,
    "user": 1,
}


@pytest.mark.parametrize(("field", "value"), sorted(FORBIDDEN_FOR_MANAGER.items()))
def test_manager_post_cannot_mass_assign(client_for, manager_a, vendor_b, field, value):
    response = client_for(manager_a).post(
        "/api/v1/labelers/", {"username": "newbie", field: value}, format="json"
    )
    assert field in _assert_error(response, 400, "invalid")["fields"]
    assert not User.objects.filter(username="newbie").exists()
    assert not Labeler.objects.exists()


@pytest.mark.parametrize(("field", "value"), sorted(FORBIDDEN_FOR_MANAGER.items()))
def test_manager_patch_cannot_mass_assign(
    client_for, manager_a, vendor_b, vendor_labeler, field, value
):
    before = _snapshot(vendor_labeler)
    response = client_for(manager_a).patch(
        f"/api/v1/labelers/{vendor_labeler.pk}/",
        {field: value, "first_name": "Sneaky"},
        format="json",
    )
    assert field in _assert_error(response, 400, "invalid")["fields"]
    assert _snapshot(vendor_labeler) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [("status", "active"), ("public_code", "L-HACKED"), ("id", 424242), ("user", 1)],
)
def test_ops_cannot_mass_assign_either(client_for, ops_user, vendor_labeler, field, value):
    before = _snapshot(vendor_labeler)
    client = client_for(ops_user)
    response = client.patch(f"/api/v1/labelers/{vendor_labeler.pk}/", {field: value}, format="json")
    assert field in _assert_error(response, 400)["fields"]
    assert _snapshot(vendor_labeler) == before
    response = client.post("/api/v1/labelers/", {"username": "newbie", field: value}, format="json")
    assert field in _assert_error(response, 400)["fields"]
    assert not User.objects.filter(username="newbie").exists()


def test_manager_patch_changes_allowed_fields(client_for, manager_a, vendor_labeler):
    SkillFactory(slug="ner")
    response = client_for(manager_a).patch(
        f"/api/v1/labelers/{vendor_labeler.pk}/",
        {"first_name": "Ana", "skills": ["ner"], "languages": ["pt-BR"], "external_id": "A-5"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["first_name"], body["skills"], body["languages"], body["external_id"]) == (
        "Ana",
        ["ner"],
        ["pt-BR"],
        "A-5",
    )
    labeler = Labeler.objects.get(pk=vendor_labeler.pk)
    assert (labeler.user.first_name, labeler.external_id) == ("Ana", "A-5")


def test_ops_changes_seniority_and_it_syncs_the_senior_group(client_for, ops_user, vendor_labeler):
    def in_senior_group() -> bool:
        return vendor_labeler.user.groups.filter(name=roles.SENIOR_LABELERS).exists()

    client = client_for(ops_user)
    url = f"/api/v1/labelers/{vendor_labeler.pk}/"
    response = client.patch(url, {"seniority": "senior"}, format="json")
    assert response.status_code == 200
    assert response.json()["seniority"] == "senior"
    assert in_senior_group()
    assert client.patch(url, {"seniority": "labeler"}, format="json").status_code == 200
    assert not in_senior_group()


def test_ops_moves_labeler_to_another_vendor(client_for, ops_user, vendor_labeler, vendor_b):
    response = client_for(ops_user).patch(
        f"/api/v1/labelers/{vendor_labeler.pk}/", {"vendor": "bravo"}, format="json"
    )
    assert response.status_code == 200
    assert Labeler.objects.get(pk=vendor_labeler.pk).vendor == vendor_b


# -- transitions and history --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "action", "end"),
    [
        (S.ACTIVE, "suspend", S.SUSPENDED),
        (S.SUSPENDED, "reactivate", S.ACTIVE),
        (S.ACTIVE, "offboard", S.OFFBOARDED),
        (S.ONBOARDING, "activate", S.ACTIVE),
    ],
)
def test_transition_writes_history_with_actor_and_reason(
    client_for, manager_a, vendor_a, start, action, end
):
    labeler = make_labeler(vendor=vendor_a, status=start)
    response = client_for(manager_a).post(
        f"/api/v1/labelers/{labeler.pk}/{action}/", {"reason": "  a reason  "}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == end
    row = labeler.status_changes.order_by("-id").first()
    assert (row.from_status, row.to_status, row.actor, row.reason) == (
        start,
        end,
        manager_a,
        "a reason",
    )


def test_activate_an_invited_labeler_records_both_steps(client_for, ops_user, vendor_a):
    labeler = make_labeler(vendor=vendor_a, status=S.INVITED)
    response = client_for(ops_user).post(
        f"/api/v1/labelers/{labeler.pk}/activate/", {"reason": "ready"}, format="json"
    )
    assert response.json()["status"] == "active"
    history = client_for(ops_user).get(f"/api/v1/labelers/{labeler.pk}/history/").json()
    assert [(h["from_status"], h["to_status"]) for h in history[:2]] == [
        ("onboarding", "active"),
        ("invited", "onboarding"),
    ]


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}])
def test_transition_without_reason_is_a_field_error(client_for, manager_a, vendor_labeler, body):
    before = _snapshot(vendor_labeler)
    response = client_for(manager_a).post(
        f"/api/v1/labelers/{vendor_labeler.pk}/suspend/", body, format="json"
    )
    assert "reason" in _assert_error(response, 400, "invalid")["fields"]
    assert _snapshot(vendor_labeler) == before


@pytest.mark.parametrize(
    ("start", "action"),
    [
        (S.ACTIVE, "reactivate"),
        (S.ACTIVE, "activate"),
        (S.SUSPENDED, "suspend"),
        (S.SUSPENDED, "activate"),
        (S.OFFBOARDED, "reactivate"),
        (S.OFFBOARDED, "activate"),
        (S.OFFBOARDED, "offboard"),
        (S.INVITED, "suspend"),
    ],
)
def test_illegal_transition_is_a_409(client_for, ops_user, vendor_a, start, action):
    labeler = make_labeler(vendor=vendor_a, status=start)
    before = _snapshot(labeler)
    response = client_for(ops_user).post(
        f"/api/v1/labelers/{labeler.pk}/{action}/", {"reason": "try"}, format="json"
    )
    _assert_error(response, 409, "invalid_transition")
    assert _snapshot(labeler) == before


def test_transition_with_unknown_field_is_rejected(client_for, manager_a, vendor_labeler):
    response = client_for(manager_a).post(
        f"/api/v1/labelers/{vendor_labeler.pk}/suspend/",
        {"reason": "x", "status": "offboarded"},
        format="json",
    )
    assert "status" in _assert_error(response, 400)["fields"]
    assert Labeler.objects.get(pk=vendor_labeler.pk).status == S.ACTIVE


def test_history_lists_newest_first(client_for, manager_a, vendor_labeler):
    client = client_for(manager_a)
    base = f"/api/v1/labelers/{vendor_labeler.pk}"
    for action, reason in [("suspend", "one"), ("reactivate", "two"), ("suspend", "three")]:
        response = client.post(f"{base}/{action}/", {"reason": reason}, format="json")
        assert response.status_code == 200
    history = client.get(f"{base}/history/").json()
    assert [h["reason"] for h in history[:3]] == ["three", "two", "one"]
    assert [h["to_status"] for h in history] == [
        "suspended",
        "active",
        "suspended",
        "active",
        "onboarding",
        "invited",
    ]
    assert history[0]["actor"] == "manager_a"
    ids = [h["id"] for h in history]
    assert ids == sorted(ids, reverse=True)


def test_offboarded_labelers_token_stops_working(client_for, manager_a, vendor_labeler):
    token = Token.objects.create(user=vendor_labeler.user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/v1/me/").status_code == 200

    response = client_for(manager_a).post(
        f"/api/v1/labelers/{vendor_labeler.pk}/offboard/", {"reason": "left"}, format="json"
    )
    assert response.status_code == 200
    _assert_error(client.get("/api/v1/me/"), 401, "authentication_failed")


# -- me -----------------------------------------------------------------------------------------


def test_me_of_ops_who_also_manages_a_vendor_lists_only_that_vendor(
    client_for, ops_user, vendor_a, vendor_b
):
    services.vendor_manager_add(actor=None, vendor=vendor_a, user=ops_user)
    body = client_for(ops_user).get("/api/v1/me/").json()
    assert body["roles"] == ["ops_manager", "vendor_manager"]
    assert [v["slug"] for v in body["managed_vendors"]] == ["acme"]


def test_me_of_manager_counts_labelers(client_for, manager_a, population):
    [vendor] = client_for(manager_a).get("/api/v1/me/").json()["managed_vendors"]
    assert (vendor["slug"], vendor["labeler_count"], vendor["active_labeler_count"]) == (
        "acme",
        4,
        2,
    )


def test_me_of_senior_labeler(client_for, senior_labeler):
    body = client_for(senior_labeler.user).get("/api/v1/me/").json()
    assert body["roles"] == ["senior_labeler"]
    assert body["managed_vendors"] == []
    assert body["labeler"]["id"] == senior_labeler.pk
