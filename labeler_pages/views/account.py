"""Getting in: the invitation page, sign-in, sign-out and passwords for labelers.

Sign-in and the passwords are Django's own auth views with the labeler pages' templates.
django-axes counts failed sign-ins here as everywhere (config/settings.py, "Login throttling");
a locked-out person gets the lockout page (429). An offboarded labeler, whose login is disabled,
who signs in with their right password sees why they cannot work (the blocked page), not
"wrong password"; a suspended one signs in and the page guard shows them the same page.

The invitation page (``/labeler/invitation/<token>/``) lets an invited labeler choose their
password through ``workforce.services.labeler_invitation_accept`` — the same service for every
caller — and signs them in.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import login, password_validation
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import path, reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from workforce import selectors, services
from workforce.models import Labeler, LabelerStatusChange, User

# The backend that signs a person in after they accept an invitation (the one that loads the
# labeler profile with the user: config/settings.py, AUTHENTICATION_BACKENDS).
SESSION_BACKEND = "config.authentication.ModelBackend"


# -- sign-in ------------------------------------------------------------------------------------


class LabelerAuthenticationForm(AuthenticationForm):
    """Django's sign-in form that also recognises an offboarded labeler: their login is
    disabled, so authentication fails as for a wrong password; when the password is in fact
    right, ``offboarded`` is their labeler profile and the view shows why they cannot work.
    The failed attempt has been counted by django-axes all the same, and a locked-out client
    is never asked about (no password is checked for it)."""

    offboarded: Labeler | None = None

    def clean(self):
        try:
            return super().clean()
        except ValidationError as exc:
            if exc.code == "invalid_login" and not getattr(self.request, "axes_locked_out", False):
                self.offboarded = self._offboarded_labeler()
            raise

    def _offboarded_labeler(self) -> Labeler | None:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if not username or not password:
            return None
        user = (
            User.objects.select_related("labeler")
            .filter(username=username, is_active=False, labeler__status=Labeler.Status.OFFBOARDED)
            .first()
        )
        if user is None or not user.check_password(password):
            return None
        return user.labeler


class LabelerLoginView(auth_views.LoginView):
    template_name = "labeler/account/login.html"
    authentication_form = LabelerAuthenticationForm
    redirect_authenticated_user = True

    def form_invalid(self, form):
        labeler = form.offboarded
        if labeler is None:
            return super().form_invalid(form)
        change = (
            LabelerStatusChange.objects.filter(labeler=labeler, to_status=labeler.status)
            .only("reason", "created_at")
            .first()
        )
        return render(
            self.request,
            "labeler/blocked.html",
            {"labeler": labeler, "change": change},
            status=403,
        )


# -- the invitation -----------------------------------------------------------------------------


class ChoosePasswordForm(forms.Form):
    """The two password fields of the invitation page. Whether the password is good enough is
    the service's rule (Django's validators); the form only checks the two are the same."""

    new_password1 = forms.CharField(
        label=_("New password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html,
    )
    new_password2 = forms.CharField(
        label=_("Confirm the new password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_new_password2(self) -> str:
        first = self.cleaned_data.get("new_password1")
        second = self.cleaned_data["new_password2"]
        if first and first != second:
            raise ValidationError(_("The two passwords are not the same."), code="mismatch")
        return second


# What the page says about a link that does not work, by the service's problem code.
INVITATION_PROBLEM_TEXTS = {
    "invitation_unknown": _(
        "This invitation link is not known. Check that you opened the whole link from your message."
    ),
    "invitation_expired": _("This invitation link has expired."),
    "invitation_used": _(
        "This invitation link has been used already: your password is set. Sign in with it, or "
        "reset it if you have forgotten it."
    ),
    "invitation_superseded": _(
        "A newer invitation link has been sent to you since this one: use the newest link."
    ),
    "labeler_not_invitable": _("This account can no longer be set up through an invitation."),
}


def _invitation_refused(request, invitation_, problem: str):
    """The page for a link that does not work (410) — except for the person who has just
    used it and is signed in (a double click, a reload after accepting): they go home."""
    user = request.user
    if (
        problem == "invitation_used"
        and user.is_authenticated
        and invitation_ is not None
        and invitation_.labeler.user_id == user.pk
    ):
        return redirect("labeler:home")
    return render(
        request,
        "labeler/account/invitation_invalid.html",
        {"problem": problem, "problem_text": INVITATION_PROBLEM_TEXTS[problem]},
        status=410,
    )


@sensitive_post_parameters("new_password1", "new_password2")
@never_cache
@csrf_protect
def invitation(request, token: str):
    """GET: the "choose your password" form, or why the link does not work (410). POST: accept
    the invitation with the password (the service checks the link again, under its lock), sign
    the person in and go to the labeler home; a refused password is shown on its field, with
    nothing written."""
    invitation_ = selectors.labeler_invitation_for_token(token=token)
    problem = selectors.labeler_invitation_problem(invitation=invitation_, now=timezone.now())
    if problem is not None:
        return _invitation_refused(request, invitation_, problem)
    form = ChoosePasswordForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            labeler = services.labeler_invitation_accept(
                token=token, password=form.cleaned_data["new_password1"]
            )
        except services.InvitationNotUsable as exc:
            return _invitation_refused(request, invitation_, exc.code)
        except ValidationError as exc:
            refused = exc.message_dict.get("password") if hasattr(exc, "error_dict") else None
            for message in refused or exc.messages:
                form.add_error("new_password1", message)
        else:
            login(request, labeler.user, backend=SESSION_BACKEND)
            messages.success(request, _("Your password is set. Welcome to LabelForce!"))
            return redirect("labeler:home")
    return render(
        request,
        "labeler/account/invitation.html",
        {"form": form, "invitation": invitation_, "username": invitation_.labeler.user.username},
    )


urlpatterns = [
    path("invitation/<str:token>/", invitation, name="invitation"),
    path("login/", LabelerLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password/",
        auth_views.PasswordChangeView.as_view(
            template_name="labeler/account/password_change.html",
            success_url=reverse_lazy("labeler:password-change-done"),
        ),
        name="password-change",
    ),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(
            template_name="labeler/account/password_change_done.html"
        ),
        name="password-change-done",
    ),
    path(
        "password/reset/",
        auth_views.PasswordResetView.as_view(
            template_name="labeler/account/password_reset.html",
            email_template_name="labeler/account/password_reset_email.txt",
            subject_template_name="labeler/account/password_reset_subject.txt",
            success_url=reverse_lazy("labeler:password-reset-sent"),
        ),
        name="password-reset",
    ),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(
            template_name="labeler/account/password_reset_sent.html"
        ),
        name="password-reset-sent",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="labeler/account/password_reset_confirm.html",
            success_url=reverse_lazy("labeler:password-reset-complete"),
        ),
        name="password-reset-confirm",
    ),
    path(
        "password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="labeler/account/password_reset_complete.html"
        ),
        name="password-reset-complete",
    ),
]
