"""Sign-in, sign-out and passwords for labelers: Django's own auth views with the labeler
pages' templates. django-axes counts failed sign-ins here as everywhere (config/settings.py,
"Login throttling"); a locked-out person gets the lockout page."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="labeler/account/login.html",
            redirect_authenticated_user=True,
        ),
        name="login",
    ),
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
