"""Getting in, as a person does it with the test client: the invitation page, sign-in (and what
a suspended, offboarded or non-labeler account sees), the password pages, login throttling and
the pages' language."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from tests.factories import UserFactory, make_labeler
from workforce import services
from workforce.models import Labeler, LabelerInvitation

pytestmark = pytest.mark.django_db

S = Labeler.Status
PASSWORD = "pw-Labelforce-1"  # make_labeler's
NEW_PASSWORD = "ochre-lantern-harbour-42"
LOGIN = "/labeler/login/"
HOME = "/labeler/"


def invited(username="newcomer", **kwargs) -> Labeler:
    return services.labeler_create(actor=None, username=username, kind="internal", **kwargs)


def invitation_path(labeler) -> str:
    return services.labeler_invitation_issue(actor=None, labeler=labeler).link


def choose(client, path, first=NEW_PASSWORD, second=None):
    return client.post(path, {"new_password1": first, "new_password2": second or first})


# -- the invitation page ------------------------------------------------------------------------


def test_the_invitation_page_asks_for_a_password_with_labelled_fields(
    client, django_assert_max_num_queries
):
    path = invitation_path(invited())
    with django_assert_max_num_queries(10):
        response = client.get(path)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Choose your password" in page and "newcomer" in page
    for name in ("new_password1", "new_password2"):
        assert re.search(rf'<label for="id_{name}">', page), name
        assert 'autocomplete="new-password"' in page
    assert (
        response["Cache-Control"].startswith("max-age=0") or "no-cache" in response["Cache-Control"]
    )


def test_accepting_signs_in_moves_to_onboarding_and_lands_on_home(client):
    labeler = invited()
    response = choose(client, invitation_path(labeler))
    assert response.status_code == 302 and response["Location"] == reverse("labeler:home")
    home = client.get(HOME)
    assert home.status_code == 200
    assert home.wsgi_request.user == labeler.user
    assert "Your password is set" in home.content.decode()
    labeler.refresh_from_db()
    assert labeler.status == S.ONBOARDING
    assert labeler.status_changes.first().to_status == S.ONBOARDING
    # Signing in again later works with the chosen password.
    client.logout()
    assert sign_in(client, "newcomer", NEW_PASSWORD)["Location"] == reverse("labeler:home")


def test_a_weak_or_mismatched_password_is_shown_on_its_field_and_nothing_is_written(client):
    labeler = invited()
    path = invitation_path(labeler)
    weak = choose(client, path, "12345678")
    assert weak.status_code == 200
    assert weak.context["form"].errors["new_password1"]
    assert 'class="field-error"' in weak.content.decode()
    mismatch = choose(client, path, NEW_PASSWORD, NEW_PASSWORD + "x")
    assert list(mismatch.context["form"].errors) == ["new_password2"]
    labeler.refresh_from_db()
    labeler.user.refresh_from_db()
    assert labeler.status == S.INVITED and not labeler.user.has_usable_password()
    assert not LabelerInvitation.objects.filter(used_at__isnull=False).exists()
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("case", ["unknown", "expired", "superseded"])
def test_a_link_that_does_not_work_says_what_to_do(client, case):
    labeler = invited()
    path = invitation_path(labeler)
    if case == "unknown":
        path = reverse("labeler:invitation", args=["no-such-token"])
    elif case == "expired":
        LabelerInvitation.objects.update(
            created_at=timezone.now() - timedelta(days=8),
            expires_at=timezone.now() - timedelta(seconds=1),
        )
    else:
        invitation_path(labeler)
    for response in (client.get(path), choose(client, path)):
        assert response.status_code == 410
        page = response.content.decode()
        assert "This invitation link does not work" in page
        assert "new invitation link" in page
        assert "new_password1" not in page
    labeler.refresh_from_db()
    assert labeler.status == S.INVITED


def test_a_used_link_sends_its_user_home_and_tells_anyone_else_to_sign_in(client):
    path = invitation_path(invited())
    assert choose(client, path).status_code == 302
    # The same person again (a reload, a double click): home, no error.
    assert choose(client, path)["Location"] == reverse("labeler:home")
    assert client.get(path)["Location"] == reverse("labeler:home")
    client.logout()
    again = client.get(path)
    assert again.status_code == 410
    assert "used already" in again.content.decode()
    assert reverse("labeler:login") in again.content.decode()


# -- sign-in ------------------------------------------------------------------------------------


def sign_in(client, username, password, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def test_the_sign_in_page_renders_in_few_queries(client, django_assert_max_num_queries):
    with django_assert_max_num_queries(10):
        response = client.get(LOGIN)
    assert response.status_code == 200
    assert '<label for="id_username">' in response.content.decode()


def test_signing_in_lands_on_home(client, internal_labeler):
    response = sign_in(client, "internal1", PASSWORD)
    assert response.status_code == 302 and response["Location"] == reverse("labeler:home")
    assert client.get(HOME).status_code == 200


def test_a_wrong_password_says_so(client, internal_labeler):
    response = sign_in(client, "internal1", "wrong")
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_suspended_labeler_sees_why_after_signing_in(client, internal_labeler):
    services.labeler_suspend(actor=None, labeler=internal_labeler, reason="Too many misses.")
    response = sign_in(client, "internal1", PASSWORD, follow=True)
    assert response.status_code == 403
    page = response.content.decode()
    assert "You cannot work at the moment" in page and "suspended" in page
    assert "Too many misses." in page


def test_an_offboarded_labeler_sees_why_instead_of_wrong_password(client, internal_labeler):
    services.labeler_offboard(actor=None, labeler=internal_labeler, reason="Contract ended.")
    response = sign_in(client, "internal1", PASSWORD)
    assert response.status_code == 403
    page = response.content.decode()
    assert "You cannot work at the moment" in page and "Contract ended." in page
    assert "_auth_user_id" not in client.session  # their login stays disabled
    # With a wrong password they learn nothing.
    wrong = sign_in(client, "internal1", "wrong")
    assert wrong.status_code == 200 and "Contract ended." not in wrong.content.decode()


def test_an_account_without_labeler_profile_sees_where_to_go(client):
    user = UserFactory(username="opsperson")
    user.set_password(PASSWORD)
    user.save()
    response = sign_in(client, "opsperson", PASSWORD, follow=True)
    assert response.status_code == 403
    assert "This account is not a labeler" in response.content.decode()


def test_sign_in_locks_out_after_the_failure_limit(client, internal_labeler, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(2):
        assert sign_in(client, "internal1", "wrong").status_code == 200
    for password in ("wrong", PASSWORD):
        response = sign_in(client, "internal1", password)
        assert response.status_code == 429
        assert "Too many failed login attempts" in response.content.decode()
        assert response["Retry-After"]
    assert "_auth_user_id" not in client.session


def test_a_locked_out_offboarded_labeler_is_not_told_their_password_is_right(
    client, internal_labeler, settings
):
    settings.AXES_FAILURE_LIMIT = 2
    services.labeler_offboard(actor=None, labeler=internal_labeler, reason="Contract ended.")
    sign_in(client, "internal1", "wrong")
    sign_in(client, "internal1", "wrong")
    response = sign_in(client, "internal1", PASSWORD)
    assert response.status_code == 429
    assert "Contract ended." not in response.content.decode()


# -- passwords ----------------------------------------------------------------------------------


def test_password_reset_mails_a_link_that_sets_a_password(client):
    labeler = make_labeler(username="forgetful")
    labeler.user.email = "forgetful@example.org"
    labeler.user.save()
    response = client.post(reverse("labeler:password-reset"), {"email": "forgetful@example.org"})
    assert response["Location"] == reverse("labeler:password-reset-sent")
    [message] = mail.outbox
    assert message.to == ["forgetful@example.org"]
    link = re.search(r"http://testserver(/labeler/password/reset/\S+/)", message.body).group(1)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done["Location"] == reverse("labeler:password-reset-complete")
    labeler.user.refresh_from_db()
    assert labeler.user.check_password(NEW_PASSWORD)


def test_password_change(client, internal_labeler):
    client.force_login(internal_labeler.user)
    page = client.get(reverse("labeler:password-change"))
    assert page.status_code == 200
    response = client.post(
        reverse("labeler:password-change"),
        {
            "old_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response["Location"] == reverse("labeler:password-change-done")
    internal_labeler.user.refresh_from_db()
    assert internal_labeler.user.check_password(NEW_PASSWORD)


# -- language -----------------------------------------------------------------------------------


def test_the_browser_language_is_used(client):
    response = client.get(LOGIN, headers={"accept-language": "pt-PT,pt;q=0.9"})
    assert response["Content-Language"] == "pt-pt"
    assert client.get(LOGIN, headers={"accept-language": "en"})["Content-Language"] == "en"


def test_the_profile_language_wins_over_the_browser(client, internal_labeler):
    services.labeler_update(actor=None, labeler=internal_labeler, data={"languages": ["pt-PT"]})
    client.force_login(internal_labeler.user)
    response = client.get(HOME, headers={"accept-language": "en"})
    assert response["Content-Language"] == "pt-pt"


def test_the_chosen_language_wins_over_the_profile(client, internal_labeler):
    services.labeler_update(actor=None, labeler=internal_labeler, data={"languages": ["pt-PT"]})
    client.force_login(internal_labeler.user)
    chosen = client.post(reverse("set_language"), {"language": "en", "next": HOME})
    assert chosen.status_code == 302
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    response = client.get(HOME, headers={"accept-language": "pt-PT"})
    assert response["Content-Language"] == "en"
