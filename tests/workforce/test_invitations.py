"""Invitations: an invited labeler's one-time link, issued by the admin and the vendor API,
accepted on the labeler pages (labeler_pages.views.account) through one service."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from config.errors import Conflict
from tests.conftest import requires_postgres
from tests.factories import make_labeler
from workforce import selectors, services
from workforce.models import Labeler, LabelerInvitation, invitation_token_hash

pytestmark = pytest.mark.django_db

S = Labeler.Status
GOOD_PASSWORD = "ochre-lantern-harbour-42"


def invited(*, vendor=None, username="newcomer", email="") -> Labeler:
    """A labeler as the API and the admin create one: invited, with no usable password."""
    return services.labeler_create(
        actor=None,
        username=username,
        email=email,
        kind=Labeler.Kind.VENDOR if vendor else Labeler.Kind.INTERNAL,
        vendor=vendor,
    )


def token_of(link: str) -> str:
    return link.rstrip("/").rsplit("/", 1)[1]


def issue(labeler, **kwargs) -> tuple[LabelerInvitation, str]:
    issued = services.labeler_invitation_issue(actor=None, labeler=labeler, **kwargs)
    return issued.invitation, token_of(issued.link)


# -- issuing ------------------------------------------------------------------------------------


def test_issue_stores_only_the_hash_and_expires_after_the_configured_days(settings, ops_user):
    settings.INVITATION_DAYS = 3
    labeler = invited()
    now = timezone.now()
    issued = services.labeler_invitation_issue(actor=ops_user, labeler=labeler, now=now)
    token = token_of(issued.link)
    assert issued.link == reverse("labeler:invitation", args=[token])
    assert len(token) >= 40
    invitation = LabelerInvitation.objects.get()
    assert invitation.token_hash == invitation_token_hash(token) != token
    assert token not in str(LabelerInvitation.objects.values().get())
    assert invitation.expires_at == now + timedelta(days=3)
    assert invitation.issued_by == ops_user
    assert issued.mailed is False and issued.superseded is False
    assert invitation.state_at(now) == "usable"


def test_reissuing_supersedes_the_previous_link(django_capture_on_commit_callbacks):
    labeler = invited()
    first, old_token = issue(labeler)
    issued = services.labeler_invitation_issue(actor=None, labeler=labeler)
    assert issued.superseded is True
    first.refresh_from_db()
    assert first.superseded_at is not None
    assert selectors.labeler_invitation_problem(
        invitation=selectors.labeler_invitation_for_token(token=old_token), now=timezone.now()
    ) == ("invitation_superseded")
    with pytest.raises(services.InvitationNotUsable) as refused:
        services.labeler_invitation_accept(token=old_token, password=GOOD_PASSWORD)
    assert refused.value.code == "invitation_superseded"
    # The new one works.
    services.labeler_invitation_accept(token=token_of(issued.link), password=GOOD_PASSWORD)


def test_at_most_one_open_invitation_per_labeler_is_a_database_constraint():
    labeler = invited()
    invitation, _ = issue(labeler)
    with pytest.raises(IntegrityError), transaction.atomic():
        LabelerInvitation.objects.create(
            labeler=labeler,
            token_hash="x" * 64,
            created_at=invitation.created_at,
            expires_at=invitation.expires_at,
        )


def test_the_link_is_mailed_after_the_commit_when_the_labeler_has_an_address(
    django_capture_on_commit_callbacks,
):
    labeler = invited(email="newcomer@example.org")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        issued = services.labeler_invitation_issue(
            actor=None, labeler=labeler, base_url="https://labelforce.example/"
        )
    assert issued.mailed is True
    assert issued.link.startswith("https://labelforce.example/labeler/invitation/")
    assert mail.outbox == []  # nothing before the commit
    for callback in callbacks:
        callback()
    [message] = mail.outbox
    assert message.to == ["newcomer@example.org"]
    assert issued.link in message.body and "newcomer" in message.body


def test_no_mail_without_an_address_or_an_absolute_link(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert issue_mailed(invited(username="a"), base_url="https://x.example") is False
        assert issue_mailed(invited(username="b", email="b@example.org")) is False
    assert mail.outbox == []


def issue_mailed(labeler, **kwargs) -> bool:
    return services.labeler_invitation_issue(actor=None, labeler=labeler, **kwargs).mailed


@pytest.mark.parametrize("status", [S.SUSPENDED, S.OFFBOARDED])
def test_a_suspended_or_offboarded_labeler_cannot_be_invited(status):
    labeler = make_labeler(status=status)
    with pytest.raises(Conflict) as refused:
        services.labeler_invitation_issue(actor=None, labeler=labeler)
    assert refused.value.code == "labeler_not_invitable"
    assert not LabelerInvitation.objects.exists()


def test_a_labeler_who_can_sign_in_is_not_invited_but_one_activated_without_a_password_is():
    with pytest.raises(Conflict):
        services.labeler_invitation_issue(actor=None, labeler=make_labeler(status=S.ACTIVE))
    never_chose = services.labeler_activate(actor=None, labeler=invited(), reason="rushed")
    _, token = issue(never_chose)
    labeler = services.labeler_invitation_accept(token=token, password=GOOD_PASSWORD)
    assert labeler.status == S.ACTIVE  # no transition: it is already past onboarding
    assert labeler.user.check_password(GOOD_PASSWORD)


# -- accepting ----------------------------------------------------------------------------------


def test_accept_sets_the_password_uses_the_link_and_moves_the_labeler_to_onboarding():
    labeler = invited()
    invitation, token = issue(labeler)
    accepted = services.labeler_invitation_accept(token=token, password=GOOD_PASSWORD)
    assert accepted.status == S.ONBOARDING
    accepted.user.refresh_from_db()
    assert accepted.user.check_password(GOOD_PASSWORD)
    invitation.refresh_from_db()
    assert invitation.used_at is not None
    change = selectors.labeler_history(labeler=labeler).first()
    assert (change.from_status, change.to_status) == (S.INVITED, S.ONBOARDING)
    assert change.actor == labeler.user
    assert "invitation" in change.reason


def test_a_link_works_once():
    _, token = issue(invited())
    services.labeler_invitation_accept(token=token, password=GOOD_PASSWORD)
    with pytest.raises(services.InvitationNotUsable) as refused:
        services.labeler_invitation_accept(token=token, password="another-" + GOOD_PASSWORD)
    assert refused.value.code == "invitation_used"
    assert refused.value.status == 410


def test_an_expired_or_unknown_link_is_refused_with_nothing_written(settings):
    settings.INVITATION_DAYS = 2
    labeler = invited()
    invitation, token = issue(labeler)
    later = invitation.expires_at + timedelta(seconds=1)
    for bad_token, now, code in (
        (token, later, "invitation_expired"),
        ("not-a-token", None, "invitation_unknown"),
    ):
        with pytest.raises(services.InvitationNotUsable) as refused:
            services.labeler_invitation_accept(token=bad_token, password=GOOD_PASSWORD, now=now)
        assert refused.value.code == code
    labeler.refresh_from_db()
    assert labeler.status == S.INVITED and not labeler.user.has_usable_password()
    invitation.refresh_from_db()
    assert invitation.used_at is None


def test_an_offboarded_labelers_link_no_longer_works():
    labeler = invited()
    _, token = issue(labeler)
    services.labeler_offboard(actor=None, labeler=labeler, reason="withdrawn")
    with pytest.raises(services.InvitationNotUsable) as refused:
        services.labeler_invitation_accept(token=token, password=GOOD_PASSWORD)
    assert refused.value.code == "labeler_not_invitable"


@pytest.mark.parametrize("password", ["short", "12345678901234", "newcomer1", "password123"])
def test_a_weak_password_is_a_field_error_and_nothing_is_written(password):
    labeler = invited()
    invitation, token = issue(labeler)
    with pytest.raises(services.ValidationError) as refused:
        services.labeler_invitation_accept(token=token, password=password)
    assert list(refused.value.message_dict) == ["password"]
    labeler.refresh_from_db()
    labeler.user.refresh_from_db()
    assert labeler.status == S.INVITED and not labeler.user.has_usable_password()
    invitation.refresh_from_db()
    assert invitation.used_at is None
    assert labeler.status_changes.count() == 1


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_double_submit_accepts_once():
    labeler = invited()
    _, token = issue(labeler)
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def attempt(password: str) -> None:
        try:
            barrier.wait(timeout=10)
            services.labeler_invitation_accept(token=token, password=password)
            outcomes.append(password)
        except services.InvitationNotUsable as exc:
            outcomes.append(exc)
        finally:
            connection.close()

    passwords = [GOOD_PASSWORD, "second-" + GOOD_PASSWORD]
    threads = [threading.Thread(target=attempt, args=(p,)) for p in passwords]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(outcomes) == 2
    [winner] = [o for o in outcomes if isinstance(o, str)]
    [loser] = [o for o in outcomes if not isinstance(o, str)]
    assert loser.code == "invitation_used"
    labeler.refresh_from_db()
    labeler.user.refresh_from_db()
    assert labeler.user.check_password(winner)
    assert labeler.status == S.ONBOARDING
    assert labeler.status_changes.filter(to_status=S.ONBOARDING).count() == 1


# -- the vendor API -----------------------------------------------------------------------------


def invitation_url(labeler) -> str:
    return f"/api/v1/labelers/{labeler.pk}/invitation/"


def test_a_vendor_manager_issues_a_link_for_their_labeler(client_for, manager_a, vendor_a):
    labeler = invited(vendor=vendor_a)
    response = client_for(manager_a).post(invitation_url(labeler), {}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["link"].startswith("http://testserver/labeler/invitation/")
    assert body["mailed"] is False and body["superseded_previous"] is False
    assert body["expires_at"]
    again = client_for(manager_a).post(invitation_url(labeler), format="json").json()
    assert again["superseded_previous"] is True and again["link"] != body["link"]
    services.labeler_invitation_accept(token=token_of(again["link"]), password=GOOD_PASSWORD)


def test_another_vendors_labeler_is_a_404_and_nothing_is_issued(client_for, manager_b, vendor_a):
    labeler = invited(vendor=vendor_a)
    response = client_for(manager_b).post(invitation_url(labeler), {}, format="json")
    assert response.status_code == 404
    assert set(response.json()) == {"detail", "code", "fields"}
    assert not LabelerInvitation.objects.exists()


def test_the_api_refuses_an_active_labeler_and_unknown_fields(client_for, ops_user, vendor_a):
    active = make_labeler(vendor=vendor_a)
    refused = client_for(ops_user).post(invitation_url(active), {}, format="json")
    assert refused.status_code == 409
    assert refused.json()["code"] == "labeler_not_invitable"
    unknown = client_for(ops_user).post(
        invitation_url(invited(vendor=vendor_a)), {"password": "x"}, format="json"
    )
    assert unknown.status_code == 400 and "password" in unknown.json()["fields"]


def test_the_api_documents_the_route(client_for, ops_user):
    schema = client_for(ops_user).get("/api/schema/", {"format": "json"}).json()
    post = schema["paths"]["/api/v1/labelers/{id}/invitation/"]["post"]
    assert "201" in post["responses"] and "once" in post["description"]


# -- the admin ----------------------------------------------------------------------------------


def test_the_admin_action_shows_each_link_once(ops_client, vendor_a):
    newcomer = invited(vendor=vendor_a, email="n@example.org")
    active = make_labeler(vendor=vendor_a, username="already-in")
    response = ops_client.post(
        reverse("admin:workforce_labeler_changelist"),
        {"action": "invite", "_selected_action": [newcomer.pk, active.pk]},
    )
    assert response.status_code == 200
    page = response.content.decode()
    [invitation] = LabelerInvitation.objects.all()
    assert invitation.labeler == newcomer and invitation.issued_by.username == "ops"
    assert "http://testserver/labeler/invitation/" in page
    assert "shown only on this page" in page
    assert "already-in" in page and "can sign in" in page  # the refusal, said


def test_the_labeler_page_invite_button_confirms_then_issues(ops_client):
    labeler = invited()
    change = ops_client.get(reverse("admin:workforce_labeler_change", args=[labeler.pk]))
    invite = reverse("admin:workforce_labeler_invite", args=[labeler.pk])
    assert invite in change.content.decode()
    confirm = ops_client.get(invite)
    assert confirm.status_code == 200 and "Issue the link" in confirm.content.decode()
    assert not LabelerInvitation.objects.exists()  # a GET issues nothing
    issued = ops_client.post(invite)
    assert issued.status_code == 200
    link = LabelerInvitation.objects.get(labeler=labeler)
    assert link.used_at is None and "/labeler/invitation/" in issued.content.decode()
    # The labeler's page lists the invitation (its state, never the link).
    page = ops_client.get(reverse("admin:workforce_labeler_change", args=[labeler.pk]))
    assert "usable" in page.content.decode()


def test_the_admin_add_page_tells_how_an_invited_labeler_gets_in(ops_client):
    page = ops_client.get(reverse("admin:workforce_labeler_add")).content.decode()
    assert "invitation link" in page and "cannot log in" in page
