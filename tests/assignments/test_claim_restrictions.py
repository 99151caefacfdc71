"""Who may work on a project (docs/next-task.md, "Who may work on a project"): internal staff
only, listed vendors only, required skills and languages. The next-task gate enforces each in
its one query (the statement count pinned as before), the refusal says why, in the API, in the
labeler's home page and in their language's words; the project's settings are validated on
their fields in the API and the admin."""

from __future__ import annotations

import pytest
from django.utils import timezone

from assignments import services
from assignments.models import Project
from assignments.selectors.gate import language_met, project_standings
from assignments.services.claim import claim_refusal
from config.errors import Forbidden
from tests.assignments.factories import make_project
from tests.factories import SkillFactory, VendorFactory, admin_url, make_labeler, token_client
from workforce.models import Labeler

pytestmark = pytest.mark.django_db


def refusal_code(labeler, project) -> str | None:
    try:
        services.assignment_claim_next(labeler=labeler, project_id=project.pk)
    except Forbidden as exc:
        return exc.code
    return None


def speaks(labeler, *codes: str) -> Labeler:
    Labeler.objects.filter(pk=labeler.pk).update(languages=list(codes))
    return Labeler.objects.get(pk=labeler.pk)


# -- the rules ------------------------------------------------------------------------------------


def test_an_internal_only_project_refuses_vendor_labelers_and_serves_staff(vendor_a):
    project = make_project(tasks=2, overlap=1, internal_only=True)
    assert refusal_code(make_labeler(vendor=vendor_a), project) == "project_internal_only"
    assert refusal_code(make_labeler(), project) is None


def test_listed_vendors_only_and_internal_staff_still_may(vendor_a, vendor_b):
    project = make_project(tasks=3, overlap=1)
    project.allowed_vendors.set([vendor_a])
    assert refusal_code(make_labeler(vendor=vendor_a), project) is None
    assert refusal_code(make_labeler(vendor=vendor_b), project) == "vendor_not_allowed"
    assert refusal_code(make_labeler(), project) is None
    # Internal only wins over the list: internal staff only.
    Project.objects.filter(pk=project.pk).update(internal_only=True)
    assert refusal_code(make_labeler(vendor=vendor_a), project) == "project_internal_only"


def test_every_required_skill_is_needed():
    project = make_project(tasks=2, overlap=1)
    project.required_skills.set([SkillFactory(slug="medical"), SkillFactory(slug="bbox")])
    one = make_labeler(skills=("bbox",))
    with pytest.raises(Forbidden) as exc:
        services.assignment_claim_next(labeler=one, project_id=project.pk)
    assert exc.value.code == "skill_missing"
    assert exc.value.detail == "This project needs the skill 'Medical'."
    assert refusal_code(make_labeler(skills=("bbox", "medical")), project) is None


@pytest.mark.parametrize(
    ("required", "spoken", "met"),
    [
        (["pt"], ["pt"], True),
        (["pt"], ["pt-BR"], True),  # the primary subtag meets the language
        (["pt"], ["PT-br"], True),  # case is ignored
        (["pt-BR"], ["pt"], False),  # a region asks for that region
        (["pt-BR"], ["pt-br"], True),
        (["pt"], ["ptx"], False),  # a prefix only on a subtag boundary
        (["pt", "en"], ["pt-PT"], False),  # every one
        (["pt", "en"], ["en-GB", "pt-PT"], True),
        ([], [], True),
    ],
)
def test_every_required_language_is_needed(required, spoken, met):
    project = make_project(tasks=2, overlap=1, required_languages=required)
    labeler = speaks(make_labeler(), *spoken)
    assert (refusal_code(labeler, project) is None) is met
    if not met:
        assert refusal_code(labeler, project) == "language_missing"
    assert all(any(language_met(r, s) for s in spoken) for r in required) is met


def test_the_missing_language_is_named():
    project = make_project(tasks=1, overlap=1, required_languages=["pt", "en"])
    labeler = speaks(make_labeler(), "en-US")
    with pytest.raises(Forbidden) as exc:
        services.assignment_claim_next(labeler=labeler, project_id=project.pk)
    assert (exc.value.code, exc.value.detail) == (
        "language_missing",
        "This project needs the language 'pt'.",
    )


def test_a_suspended_vendor_comes_before_the_project_rules(vendor_a):
    from workforce import services as workforce_services

    project = make_project(tasks=1, overlap=1, internal_only=True)
    labeler = make_labeler(vendor=vendor_a)
    workforce_services.vendor_suspend(actor=None, vendor=vendor_a, reason="audit")
    assert refusal_code(labeler, project) == "vendor_inactive"


def test_restrictions_cost_no_statement(assert_max_statements, vendor_a):
    """The pinned three statements (gate, claim, lease) with every restriction set and met."""
    project = make_project(tasks=20, required_languages=["pt", "en"])
    project.allowed_vendors.set([vendor_a])
    project.required_skills.set([SkillFactory(slug="medical")])
    labeler = speaks(make_labeler(vendor=vendor_a, skills=("medical",)), "pt-BR", "en")
    with assert_max_statements(3):
        claim = services.assignment_claim_next(labeler=labeler, project_id=project.pk)
    assert claim.created
    outsider = make_labeler(vendor=VendorFactory(slug="outsider"), skills=("medical",))
    with assert_max_statements(1), pytest.raises(Forbidden):  # a refusal: the gate alone
        services.assignment_claim_next(labeler=outsider, project_id=project.pk)


# -- the reasons, where the labeler reads them ----------------------------------------------------


def test_the_api_answers_403_with_the_reason(vendor_a):
    project = make_project(tasks=1, overlap=1, internal_only=True)
    response = token_client(make_labeler(vendor=vendor_a)).post(
        f"/api/v1/projects/{project.pk}/next-task/"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "project_internal_only"
    assert response.json()["detail"] == "This project is restricted to internal staff."


def test_the_standings_say_why_per_project(vendor_a):
    """``project_standings`` (the home page's one query) gives each project's refusal."""
    open_project = make_project(tasks=1, overlap=1, slug="open")
    internal = make_project(tasks=1, overlap=1, slug="internal", internal_only=True)
    skilled = make_project(tasks=1, overlap=1, slug="skilled")
    skilled.required_skills.set([SkillFactory(slug="medical")])
    lingual = make_project(tasks=1, overlap=1, slug="lingual", required_languages=["pt"])
    labeler = make_labeler(vendor=vendor_a)
    codes = {
        s.gate.project.slug: getattr(claim_refusal(s.gate, labeler=labeler), "code", None)
        for s in project_standings(labeler=labeler, now=timezone.now())
    }
    assert codes == {
        "open": None,
        "internal": "project_internal_only",
        "skilled": "skill_missing",
        "lingual": "language_missing",
    }
    assert open_project and internal and lingual


def test_the_home_page_says_why(client, vendor_a):
    from workforce import services as workforce_services

    make_project(tasks=1, overlap=1, slug="internal", name="Internal work", internal_only=True)
    make_project(tasks=1, overlap=1, slug="lingual", name="Lingual", required_languages=["pt"])
    labeler = make_labeler(vendor=vendor_a)
    client.force_login(labeler.user)
    page = client.get("/labeler/").content.decode()
    assert "This project is restricted to internal staff." in page
    assert "This project needs the language &#x27;pt&#x27;." in page
    workforce_services.vendor_suspend(actor=None, vendor=vendor_a, reason="audit")
    page = client.get("/labeler/").content.decode()
    assert "Your vendor is suspended" in page


def test_the_reasons_are_marked_for_translation(vendor_a):
    """The refusals are marked for translation: under another active language gettext is
    asked for them (the catalogue itself is the lead's, made at the end)."""
    from django.utils import translation

    project = make_project(tasks=1, overlap=1, internal_only=True)
    labeler = make_labeler(vendor=vendor_a)
    seen = []
    original = translation.gettext

    def spy(message):
        seen.append(message)
        return original(message)

    import assignments.services.claim as claim_module

    claim_module_gettext = claim_module._
    claim_module._ = spy
    try:
        with translation.override("pt-pt"):
            refusal_code(labeler, project)
    finally:
        claim_module._ = claim_module_gettext
    assert "This project is restricted to internal staff." in seen


# -- the settings ---------------------------------------------------------------------------------


BODY = {"slug": "who", "name": "Who", "answer_type": "single_choice", "classes": ["a", "b"]}


def test_the_api_takes_and_shows_who_may_work(client_for, ops_user, vendor_a):
    SkillFactory(slug="medical")
    body = {
        **BODY,
        "internal_only": False,
        "allowed_vendors": [vendor_a.slug],
        "required_skills": ["medical"],
        "required_languages": [" pt ", "en-GB", "PT"],
        "timezone": "Europe/Lisbon",
        "drift_alpha": "0.01",
    }
    response = client_for(ops_user).post("/api/v1/projects/", body, format="json")
    assert response.status_code == 201, response.json()
    shown = response.json()
    assert shown["allowed_vendors"] == [vendor_a.slug]
    assert shown["required_skills"] == ["medical"]
    assert shown["required_languages"] == ["pt", "en-GB"]  # trimmed, duplicates dropped
    assert (shown["timezone"], shown["drift_alpha"]) == ("Europe/Lisbon", "0.0100")
    response = client_for(ops_user).patch(
        f"/api/v1/projects/{shown['id']}/",
        {"internal_only": True, "allowed_vendors": [], "timezone": "Asia/Tokyo"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    project = Project.objects.get(pk=shown["id"])
    assert project.internal_only and not project.allowed_vendors.exists()
    assert project.timezone == "Asia/Tokyo"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timezone", "Mars/Olympus", "Unknown time zone 'Mars/Olympus'"),
        ("timezone", "utc+1", "Unknown time zone"),
        ("required_languages", ["portuguese"], "is not a BCP 47 language code"),
        ("required_languages", ["pt_BR"], "is not a BCP 47 language code"),
        ("allowed_vendors", ["nobody"], "Unknown vendors: nobody."),
        ("required_skills", ["juggling"], "Unknown skills: juggling."),
        ("drift_alpha", "1", "A p-value threshold from 0"),
        ("drift_alpha", "-0.1", "A p-value threshold from 0"),
        ("internal_only", "maybe", "Must be a valid boolean."),
    ],
)
def test_bad_settings_are_400_on_their_field_and_nothing_written(
    client_for, ops_user, field, value, message
):
    client = client_for(ops_user)
    response = client.post("/api/v1/projects/", {**BODY, field: value}, format="json")
    assert response.status_code == 400, response.json()
    assert message in " ".join(response.json()["fields"][field])
    assert not Project.objects.filter(slug="who").exists()
    project = services.project_create(actor=ops_user, **{**BODY, "slug": "kept"})
    response = client.patch(f"/api/v1/projects/{project.pk}/", {field: value}, format="json")
    assert response.status_code == 400
    assert message in " ".join(response.json()["fields"][field])
    project.refresh_from_db()
    assert (project.timezone, project.required_languages, project.internal_only) == (
        "UTC",
        [],
        False,
    )


def test_labelers_do_not_see_which_vendors_a_project_allows(client_for, vendor_a):
    project = make_project(tasks=1, overlap=1)
    project.allowed_vendors.set([vendor_a])
    body = client_for(make_labeler(vendor=vendor_a).user).get(f"/api/v1/projects/{project.pk}/")
    assert body.status_code == 200
    assert "allowed_vendors" not in body.json()


def test_the_admin_groups_who_may_work_and_validates_it(ops_client, vendor_a):
    project = make_project(tasks=1, overlap=1)
    page = ops_client.get(admin_url(Project, "change", project.pk))
    assert page.status_code == 200
    fieldsets = dict(page.context["adminform"].model_admin.get_fieldsets(None, project))
    assert fieldsets["Who may work"]["fields"][:4] == (
        "internal_only",
        "allowed_vendors",
        "required_skills",
        "required_languages",
    )
    assert "drift_alpha" in fieldsets["Quality"]["fields"]
    assert fieldsets["Calendar"]["fields"] == ("timezone",)
