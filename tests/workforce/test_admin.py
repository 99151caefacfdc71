"""The operations admin of the workforce: the labeler list costs a constant number of queries,
lifecycle actions and forms go through the services, and bulk import is all or nothing. (That
every admin page renders is tests/config/test_admin_smoke.py.)"""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from import_export.formats import base_formats

from tests.factories import SkillFactory, UserFactory, admin_url, make_labeler
from workforce import roles, selectors, services
from workforce.models import (
    Labeler,
    LabelerStatusChange,
    User,
    Vendor,
    VendorMembership,
)
from workforce.resources import COLUMNS, LabelerResource

pytestmark = pytest.mark.django_db

S = Labeler.Status


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _counts() -> tuple[int, int, int]:
    return (User.objects.count(), Labeler.objects.count(), LabelerStatusChange.objects.count())


def test_vendor_changelist_shows_annotated_labeler_counts(ops_client, vendor_a, vendor_labeler):
    make_labeler(vendor=vendor_a, status=S.SUSPENDED)
    response = ops_client.get(admin_url(Vendor, "changelist"))
    vendor = next(v for v in response.context["cl"].result_list if v.pk == vendor_a.pk)
    assert (vendor.labeler_count, vendor.active_labeler_count) == (2, 1)


# -- (2) the labeler list does not cost a query per row ------------------------------------------


def test_labeler_changelist_query_count_does_not_grow_with_rows(ops_client, vendor_a, vendor_b):
    def add(n: int) -> None:
        for i in range(n):
            vendor = (vendor_a, vendor_b, None)[i % 3]
            make_labeler(vendor=vendor, skills=("bbox", "ner"))

    url = admin_url(Labeler, "changelist")
    add(3)
    ops_client.get(url)  # warm-up: session, content types
    with CaptureQueriesContext(connection) as few:
        response = ops_client.get(url)
    assert len(response.context["cl"].result_list) == 3

    add(27)
    with CaptureQueriesContext(connection) as many:
        response = ops_client.get(url)
    assert len(response.context["cl"].result_list) == 30
    assert response.content.decode().count("bbox, ner") == 30  # the skills column is rendered
    assert len(few) == len(many), [q["sql"] for q in many.captured_queries]


# -- (3) lifecycle actions -----------------------------------------------------------------------


def _act(client, action: str, labelers, **extra):
    data = {"action": action, "_selected_action": [lab.pk for lab in labelers], **extra}
    return client.post(admin_url(Labeler, "changelist"), data)


def test_suspend_asks_for_a_reason_then_suspends_and_records_actor(
    ops_client, ops_user, vendor_labeler
):
    response = _act(ops_client, "suspend", [vendor_labeler])
    assert response.status_code == 200
    assert "admin/reason_confirmation.html" in [t.name for t in response.templates]
    assert vendor_labeler.public_code in response.content.decode()
    vendor_labeler.refresh_from_db()
    assert vendor_labeler.status == S.ACTIVE

    response = _act(
        ops_client, "suspend", [vendor_labeler], post="yes", reason="Missed the QA deadline."
    )
    assert response.status_code == 302
    vendor_labeler.refresh_from_db()
    assert vendor_labeler.status == S.SUSPENDED
    change = vendor_labeler.status_changes.first()
    assert (change.from_status, change.to_status) == (S.ACTIVE, S.SUSPENDED)
    assert change.actor == ops_user
    assert change.reason == "Missed the QA deadline."
    assert "Suspended 1 labeler(s)." in _messages(response)


def test_blank_reason_shows_the_form_again_and_changes_nothing(ops_client, vendor_labeler):
    before = vendor_labeler.status_changes.count()
    response = _act(ops_client, "offboard", [vendor_labeler], post="yes", reason="   ")
    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    vendor_labeler.refresh_from_db()
    assert vendor_labeler.status == S.ACTIVE
    assert vendor_labeler.status_changes.count() == before
    assert vendor_labeler.user.is_active


def test_illegal_transition_is_an_error_message_per_labeler(ops_client, vendor_a):
    active = make_labeler(vendor=vendor_a)
    suspended = make_labeler(vendor=vendor_a, status=S.SUSPENDED)
    response = _act(
        ops_client, "reactivate", [active, suspended], post="yes", reason="Back after review."
    )
    assert response.status_code == 302
    msgs = _messages(response)
    assert "Reactivated 1 labeler(s)." in msgs
    errors = [m for m in msgs if m.startswith("Could not reactivate")]
    assert len(errors) == 1 and active.public_code in errors[0]
    active.refresh_from_db()
    suspended.refresh_from_db()
    assert (active.status, suspended.status) == (S.ACTIVE, S.ACTIVE)


def test_offboarded_is_final_and_reported_without_a_500(ops_client, vendor_a):
    gone = make_labeler(vendor=vendor_a, status=S.OFFBOARDED)
    response = _act(ops_client, "suspend", [gone], post="yes", reason="Try anyway.")
    assert response.status_code == 302
    [message] = _messages(response)
    assert "Offboarding is final" in message
    gone.refresh_from_db()
    assert gone.status == S.OFFBOARDED


def test_activate_walks_an_invited_labeler_through_onboarding(ops_client, ops_user, vendor_a):
    invited = make_labeler(vendor=vendor_a, status=S.INVITED)
    response = _act(ops_client, "activate", [invited], post="yes", reason="Passed onboarding.")
    assert response.status_code == 302
    invited.refresh_from_db()
    assert invited.status == S.ACTIVE
    steps = list(
        invited.status_changes.filter(actor=ops_user)
        .order_by("id")
        .values_list("from_status", "to_status")
    )
    assert steps == [(S.INVITED, S.ONBOARDING), (S.ONBOARDING, S.ACTIVE)]


def test_offboard_disables_the_login(ops_client, vendor_labeler):
    response = _act(ops_client, "offboard", [vendor_labeler], post="yes", reason="Contract ended.")
    assert response.status_code == 302
    vendor_labeler.refresh_from_db()
    assert vendor_labeler.status == S.OFFBOARDED
    assert not vendor_labeler.user.is_active


# -- (4) add and change forms call the services --------------------------------------------------


def _add_data(**overrides) -> dict:
    data = {
        "username": "new.labeler",
        "email": "new.labeler@example.test",
        "first_name": "Nia",
        "last_name": "Lopes",
        "kind": "vendor",
        "vendor": "",
        "external_id": "A-100",
        "seniority": "senior",
        "languages": "en, pt-BR",
        "timezone": "Europe/Lisbon",
    }
    data.update(overrides)
    return data


def test_add_labeler_goes_through_the_service(ops_client, ops_user, vendor_a):
    skill = SkillFactory(slug="ner")
    response = ops_client.post(
        admin_url(Labeler, "add"), _add_data(vendor=vendor_a.pk, skills=[skill.pk])
    )
    assert response.status_code == 302, response.context and response.context["errors"]
    labeler = Labeler.objects.get(user__username="new.labeler")
    assert (labeler.kind, labeler.vendor, labeler.status) == ("vendor", vendor_a, S.INVITED)
    assert labeler.languages == ["en", "pt-BR"]
    assert [s.slug for s in labeler.skills.all()] == ["ner"]
    [change] = labeler.status_changes.all()
    assert (change.from_status, change.to_status, change.actor) == ("", S.INVITED, ops_user)
    groups = set(labeler.user.groups.values_list("name", flat=True))
    assert groups == {roles.LABELERS, roles.SENIOR_LABELERS}
    assert not labeler.user.has_usable_password()
    assert LogEntry.objects.filter(object_id=str(labeler.pk)).exists()
    assert response.url == admin_url(Labeler, "changelist")


@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone", "Unknown time zone"),
        ({"languages": "en, 123"}, "languages", "BCP 47"),
        ({"kind": "internal"}, "vendor", "internal labeler has no vendor"),
    ],
)
def test_add_labeler_shows_service_errors_on_the_form(ops_client, vendor_a, overrides, field, text):
    before = _counts()
    response = ops_client.post(
        admin_url(Labeler, "add"), _add_data(vendor=vendor_a.pk, **overrides)
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert text in " ".join(errors[field])
    assert _counts() == before


def test_add_labeler_for_a_suspended_vendor_is_refused(ops_client, vendor_a):
    services.vendor_suspend(actor=None, vendor=vendor_a, reason="test")
    before = _counts()
    response = ops_client.post(admin_url(Labeler, "add"), _add_data(vendor=vendor_a.pk))
    assert response.status_code == 200
    assert "suspended" in " ".join(response.context["adminform"].form.errors["vendor"])
    assert _counts() == before


def _change_data(labeler: Labeler, **overrides) -> dict:
    data = {
        "email": labeler.user.email,
        "first_name": labeler.user.first_name,
        "last_name": labeler.user.last_name,
        "kind": labeler.kind,
        "vendor": labeler.vendor_id or "",
        "external_id": labeler.external_id,
        "seniority": labeler.seniority,
        "skills": [s.pk for s in labeler.skills.all()],
        "languages": ", ".join(labeler.languages),
        "timezone": labeler.timezone,
        # The read-only inlines (qualifications, history): no forms posted.
        **{
            f"{prefix}-{name}": "0"
            for prefix in ("qualifications", "status_changes")
            for name in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS")
        },
    }
    data.update(overrides)
    return data


def test_change_labeler_goes_through_update_and_status_is_read_only(ops_client, vendor_labeler):
    data = _change_data(
        vendor_labeler, seniority="senior", timezone="Asia/Tokyo", status="offboarded"
    )
    response = ops_client.post(admin_url(Labeler, "change", vendor_labeler.pk), data)
    assert response.status_code == 302
    vendor_labeler.refresh_from_db()
    assert (vendor_labeler.seniority, vendor_labeler.timezone) == ("senior", "Asia/Tokyo")
    assert vendor_labeler.status == S.ACTIVE  # not a form field
    assert vendor_labeler.user.groups.filter(name=roles.SENIOR_LABELERS).exists()


def test_change_labeler_service_error_shows_on_form_and_nothing_is_written(
    ops_client, vendor_labeler
):
    data = _change_data(vendor_labeler, first_name="Changed", timezone="Nowhere/Land")
    response = ops_client.post(admin_url(Labeler, "change", vendor_labeler.pk), data)
    assert response.status_code == 200
    assert "Unknown time zone" in " ".join(response.context["adminform"].form.errors["timezone"])
    vendor_labeler.refresh_from_db()
    vendor_labeler.user.refresh_from_db()
    assert vendor_labeler.user.first_name != "Changed"
    assert vendor_labeler.timezone == "UTC"


def test_history_is_read_only(ops_client, vendor_labeler):
    change = vendor_labeler.status_changes.first()
    assert ops_client.get(admin_url(LabelerStatusChange, "add")).status_code == 403
    assert ops_client.get(admin_url(LabelerStatusChange, "delete", change.pk)).status_code == 403
    response = ops_client.post(admin_url(LabelerStatusChange, "change", change.pk), {"reason": "x"})
    assert response.status_code == 403
    page = ops_client.get(admin_url(Labeler, "change", vendor_labeler.pk)).content.decode()
    assert "status_changes-0-reason" not in page  # shown, not editable


# -- vendors and their managers ------------------------------------------------------------------


def test_add_vendor_with_a_manager_goes_through_the_services(ops_client):
    manager = UserFactory(username="vm")
    response = ops_client.post(
        admin_url(Vendor, "add"),
        {
            "name": "Delta Data",
            "slug": "delta",
            "contact_name": "",
            "contact_email": "",
            "country": "br",
            "default_currency": "brl",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
            "memberships-0-user": manager.pk,
        },
    )
    assert response.status_code == 302, response.context and response.context["errors"]
    vendor = Vendor.objects.get(slug="delta")
    assert (vendor.country, vendor.default_currency, vendor.status) == ("BR", "BRL", "active")
    assert list(selectors.managed_vendors(manager)) == [vendor]
    assert manager.groups.filter(name=roles.VENDOR_MANAGERS).exists()


def test_add_vendor_with_a_bad_currency_shows_the_error(ops_client):
    response = ops_client.post(
        admin_url(Vendor, "add"),
        {
            "name": "Echo",
            "slug": "echo",
            "country": "PT",
            "default_currency": "E1R",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["default_currency"]
    assert not Vendor.objects.filter(slug="echo").exists()


def test_removing_a_manager_inline_takes_the_object_permission_away(
    ops_client, vendor_a, manager_a
):
    membership = VendorMembership.objects.get(vendor=vendor_a, user=manager_a)
    assert list(selectors.managed_vendors(manager_a)) == [vendor_a]
    response = ops_client.post(
        admin_url(Vendor, "change", vendor_a.pk),
        {
            "name": vendor_a.name,
            "slug": vendor_a.slug,
            "contact_name": "",
            "contact_email": "",
            "country": vendor_a.country,
            "default_currency": vendor_a.default_currency,
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "1",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
            "memberships-0-id": membership.pk,
            "memberships-0-vendor": vendor_a.pk,
            "memberships-0-DELETE": "on",
            # The status history inline (read-only) sends its management form too.
            "status_changes-TOTAL_FORMS": "0",
            "status_changes-INITIAL_FORMS": "0",
            "status_changes-MIN_NUM_FORMS": "0",
            "status_changes-MAX_NUM_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.context and response.context["errors"]
    assert not VendorMembership.objects.filter(pk=membership.pk).exists()
    assert list(selectors.managed_vendors(manager_a)) == []
    assert not manager_a.groups.filter(name=roles.VENDOR_MANAGERS).exists()


def test_membership_admin_add_and_delete_keep_the_permission_in_step(ops_client, vendor_b):
    user = UserFactory(username="vm2")
    response = ops_client.post(
        admin_url(VendorMembership, "add"), {"user": user.pk, "vendor": vendor_b.pk}
    )
    assert response.status_code == 302
    assert list(selectors.managed_vendors(user)) == [vendor_b]
    membership = VendorMembership.objects.get(user=user)
    response = ops_client.post(
        admin_url(VendorMembership, "delete", membership.pk), {"post": "yes"}
    )
    assert response.status_code == 302
    assert list(selectors.managed_vendors(user)) == []


def test_vendor_suspend_and_reactivate_actions(ops_client, vendor_a):
    """Each asks for a reason first, then calls the status service (tests/workforce/
    test_vendor_status.py covers the buttons and the history)."""
    url = admin_url(Vendor, "changelist")
    chosen = {"action": "suspend_vendors", "_selected_action": [vendor_a.pk]}
    response = ops_client.post(url, chosen)
    assert response.status_code == 200  # the page that asks for the reason
    assert "reason" in response.context["form"].fields
    vendor_a.refresh_from_db()
    assert vendor_a.status == Vendor.Status.ACTIVE

    response = ops_client.post(url, {**chosen, "post": "yes", "reason": "audit"})
    assert response.status_code == 302
    vendor_a.refresh_from_db()
    assert vendor_a.status == Vendor.Status.SUSPENDED

    response = ops_client.post(url, {**chosen, "post": "yes", "reason": "again"})
    assert any("cannot go from suspended to suspended" in m for m in _messages(response))

    ops_client.post(
        url,
        {
            "action": "reactivate_vendors",
            "_selected_action": [vendor_a.pk],
            "post": "yes",
            "reason": "resolved",
        },
    )
    vendor_a.refresh_from_db()
    assert vendor_a.status == Vendor.Status.ACTIVE


def test_ops_manager_cannot_escalate_or_touch_superusers(ops_client, ops_user, vendor_labeler):
    target = UserFactory(username="someone")
    response = ops_client.get(admin_url(User, "change", target.pk))
    assert response.status_code == 200
    form_fields = response.context["adminform"].form.fields
    assert "is_superuser" not in form_fields
    assert "user_permissions" not in form_fields
    assert "is_active" in form_fields

    # A labeler's login follows the lifecycle, not a checkbox.
    response = ops_client.get(admin_url(User, "change", vendor_labeler.user_id))
    assert "is_active" not in response.context["adminform"].form.fields

    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    response = ops_client.post(admin_url(User, "change", root.pk), {"username": "pwned"})
    assert response.status_code == 403
    password_url = reverse("admin:auth_user_password_change", args=[root.pk])
    assert ops_client.get(password_url).status_code == 403


# -- (5) bulk import and export ------------------------------------------------------------------

HEADER = ",".join(c for c in COLUMNS if c != "public_code")


def _csv(*rows: str) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


def _dataset(text: str):
    return base_formats.CSV().create_dataset(text)


def _import(text: str, user, **kwargs):
    return LabelerResource().import_data(
        _dataset(text), dry_run=False, use_transactions=True, user=user, **kwargs
    )


@pytest.fixture
def skills(db):
    return [SkillFactory(slug="bbox"), SkillFactory(slug="ner")]


def test_import_creates_and_updates_through_the_services(
    ops_user, vendor_a, vendor_labeler, skills
):
    text = _csv(
        'ana,ana@example.test,Ana,Silva,vendor,acme,A-100,active,labeler,"bbox,ner","en,pt-BR",Europe/Lisbon',
        "bruno,,,,internal,,,,senior,,,",
        f"{vendor_labeler.user.username},,Renamed,,,acme,A-001,suspended,,bbox,en,",
    )
    result = _import(text, ops_user, file_name="labelers.csv")
    assert not result.has_errors() and not result.has_validation_errors()
    assert (result.totals["new"], result.totals["update"]) == (2, 1)

    ana = Labeler.objects.get(user__username="ana")
    assert (ana.status, ana.kind, ana.vendor, ana.external_id) == (
        S.ACTIVE,
        "vendor",
        vendor_a,
        "A-100",
    )
    assert sorted(s.slug for s in ana.skills.all()) == ["bbox", "ner"]
    assert (ana.languages, ana.timezone) == (["en", "pt-BR"], "Europe/Lisbon")
    steps = list(ana.status_changes.order_by("id").values_list("from_status", "to_status", "actor"))
    assert steps == [
        ("", S.INVITED, ops_user.pk),
        (S.INVITED, S.ONBOARDING, ops_user.pk),
        (S.ONBOARDING, S.ACTIVE, ops_user.pk),
    ]
    assert ana.status_changes.first().reason == "Bulk import (labelers.csv)."

    bruno = Labeler.objects.get(user__username="bruno")
    assert (bruno.status, bruno.kind, bruno.vendor, bruno.seniority) == (
        S.INVITED,
        "internal",
        None,
        "senior",
    )
    assert bruno.status_changes.count() == 1

    vendor_labeler.refresh_from_db()
    vendor_labeler.user.refresh_from_db()
    assert vendor_labeler.status == S.SUSPENDED
    assert vendor_labeler.user.first_name == "Renamed"
    assert [s.slug for s in vendor_labeler.skills.all()] == ["bbox"]
    assert vendor_labeler.timezone == "UTC"  # blank cell: unchanged
    last = vendor_labeler.status_changes.first()
    assert (last.from_status, last.to_status, last.actor) == (S.ACTIVE, S.SUSPENDED, ops_user)


@pytest.mark.parametrize(
    ("bad_row", "field", "text"),
    [
        ("carla,,,,vendor,nope,,,,,,UTC", "vendor", "No vendor with slug 'nope'"),
        ("carla,,,,internal,,,,,,,Mars/Olympus", "timezone", "Unknown time zone"),
        ("carla,,,,internal,,,,,quantum,,UTC", "skills", "Unknown skill"),
        ("carla,,,,internal,,,retired,,,,UTC", "status", "Unknown status"),
    ],
)
def test_import_with_one_bad_row_reports_it_and_imports_nothing(
    ops_user, vendor_a, skills, bad_row, field, text
):
    before = _counts()
    result = _import(
        _csv("ana,,,,vendor,acme,,active,,bbox,,UTC", bad_row, "dora,,,,internal,,,,,,,UTC"),
        ops_user,
    )
    assert result.has_validation_errors()
    [invalid] = result.invalid_rows
    assert invalid.number == 2
    assert text in " ".join(invalid.error_dict[field])
    assert _counts() == before


def test_import_illegal_transition_rolls_back_earlier_rows_and_its_own_update(ops_user, vendor_a):
    gone = make_labeler(vendor=vendor_a, status=S.OFFBOARDED, username="gone")
    before = _counts()
    result = _import(
        _csv("ana,,,,internal,,,active,,,,UTC", "gone,,Back,,,acme,,active,,,,"), ops_user
    )
    [invalid] = result.invalid_rows
    assert invalid.number == 2
    assert "cannot go from offboarded" in " ".join(invalid.error_dict["status"])
    assert _counts() == before
    gone.user.refresh_from_db()
    assert gone.user.first_name != "Back"


def test_xlsx_export_then_import_round_trips_without_changes(ops_user, vendor_a, skills):
    make_labeler(vendor=vendor_a, skills=("bbox",), external_id="A-7")
    make_labeler(status=S.SUSPENDED)
    data = LabelerResource().export().export("xlsx")
    before = _counts()
    result = LabelerResource().import_data(
        base_formats.XLSX().create_dataset(data), dry_run=False, user=ops_user
    )
    assert not result.has_errors() and not result.has_validation_errors()
    assert result.totals["update"] == 2
    assert _counts() == before  # same status: no transition, no history row


# Through the admin's views: upload (a dry run, rolled back), then confirm.


def _upload(client, text: str, name: str = "labelers.csv"):
    return client.post(
        admin_url(Labeler, "import"),
        {
            "resource": "0",
            "format": "0",  # CSV
            "import_file": SimpleUploadedFile(name, text.encode(), content_type="text/csv"),
        },
    )


def test_admin_import_previews_then_confirms(ops_client, ops_user, vendor_a, skills):
    text = _csv("ana,,Ana,,vendor,acme,A-100,active,,bbox,en,UTC", "bruno,,,,internal,,,,,,,UTC")
    before = _counts()
    response = _upload(ops_client, text)
    assert response.status_code == 200
    result = response.context["result"]
    assert not result.has_errors() and not result.has_validation_errors()
    assert _counts() == before  # the preview was rolled back

    confirm = response.context["confirm_form"]
    response = ops_client.post(admin_url(Labeler, "process_import"), confirm.initial)
    assert response.status_code == 302
    assert "Import finished: 2 new, 0 updated, 0 deleted and 0 skipped labelers." in _messages(
        response
    )
    ana = Labeler.objects.get(user__username="ana")
    assert ana.status == S.ACTIVE
    assert ana.status_changes.filter(actor=ops_user).count() == 3
    assert Labeler.objects.filter(user__username="bruno", status=S.INVITED).exists()


def test_admin_import_with_a_bad_row_shows_it_and_imports_nothing(ops_client, vendor_a):
    before = _counts()
    response = _upload(
        ops_client, _csv("ana,,,,vendor,acme,,,,,,UTC", "bea,,,,vendor,nope,,,,,,UTC")
    )
    assert response.status_code == 200
    result = response.context["result"]
    assert result.has_validation_errors()
    assert "confirm_form" not in response.context
    assert "No vendor with slug" in response.content.decode()
    assert _counts() == before


def test_admin_import_that_fails_at_confirm_is_rolled_back_whole(ops_client, vendor_a):
    response = _upload(ops_client, _csv("zed,,,,internal,,,,,,,UTC", "ana,,,,vendor,acme,,,,,,UTC"))
    confirm = response.context["confirm_form"]
    # Between preview and confirm the vendor is suspended: row 2 now fails.
    services.vendor_suspend(actor=None, vendor=vendor_a, reason="test")
    before = _counts()
    response = ops_client.post(admin_url(Labeler, "process_import"), confirm.initial)
    assert response.status_code == 302
    assert response.url == admin_url(Labeler, "import")
    msgs = _messages(response)
    assert "Nothing was imported: the file was rolled back." in msgs
    assert any(m.startswith("Row 2: vendor:") and "suspended" in m for m in msgs)
    assert _counts() == before
    assert not User.objects.filter(username="zed").exists()
    assert not LogEntry.objects.filter(content_type__model="labeler").exists()


def _export(client, fmt: str):
    fields = {f"labelerresource_{name}": "on" for name in COLUMNS}
    return client.post(admin_url(Labeler, "export"), {"resource": "0", "format": fmt, **fields})


def test_admin_csv_export_has_every_column_and_the_public_code(ops_client, vendor_labeler):
    services.labeler_update(actor=None, labeler=vendor_labeler, data={"languages": ["en", "fr"]})
    response = _export(ops_client, "0")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert tuple(rows[0]) == COLUMNS
    [row] = [r for r in rows if r["username"] == vendor_labeler.user.username]
    assert row["public_code"] == vendor_labeler.public_code
    assert (row["vendor"], row["external_id"], row["status"]) == ("acme", "A-001", "active")
    assert row["languages"] == "en,fr"


def test_admin_xlsx_export_returns_a_workbook(ops_client, vendor_labeler, internal_labeler):
    response = _export(ops_client, "1")
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    rows = list(workbook.active.iter_rows(values_only=True))
    assert rows[0] == COLUMNS
    codes = {r[COLUMNS.index("public_code")] for r in rows[1:]}
    assert codes == {vendor_labeler.public_code, internal_labeler.public_code}
