"""Token authentication that loads the caller and their labeler profile in the same statement,
so the hot path (next task, submit) spends one query on finding who is calling."""

from functools import cache

from django.contrib.auth import backends
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from config.rawsql import RowReader, prepared_cursor


@cache
def _token_statement() -> tuple[str, RowReader, RowReader, RowReader]:
    """The token, its user and the user's labeler profile (NULLs when none), by key: one fixed
    statement with its row readers. Composing the equivalent ``select_related`` queryset on
    every request cost more CPU than the rest of a submit (BENCHMARKS.md, "Where a label's CPU
    goes"); the text is built once from model metadata."""
    from workforce.models import Labeler, User

    token, user, labeler = RowReader(Token), RowReader(User), RowReader(Labeler)
    sql = (
        f"SELECT {token.columns('t')}, {user.columns('u')}, {labeler.columns('l')}"  # noqa: S608
        f" FROM {Token._meta.db_table} t"
        f" JOIN {User._meta.db_table} u ON u.id = t.user_id"
        f" LEFT JOIN {Labeler._meta.db_table} l ON l.user_id = u.id"
        " WHERE t.key = %(key)s"
    )
    return sql, token, user, labeler


def token_with_user(key: str) -> Token | None:
    """The token of ``key`` with ``token.user`` and ``token.user.labeler`` loaded (the labeler
    cached as absent when the user has none, as ``select_related`` leaves it); None when no
    token has that key."""
    from workforce.models import Labeler

    sql, tokens, users, labelers = _token_statement()
    with prepared_cursor() as cursor:
        cursor.execute(sql, {"key": key})
        row = cursor.fetchone()
    if row is None:
        return None
    token = tokens.read(row[: len(tokens)])
    user = users.read(row[len(tokens) : len(tokens) + len(users)])
    labeler_row = row[len(tokens) + len(users) :]
    labeler = labelers.read(labeler_row) if labeler_row[0] is not None else None
    user_field = Labeler._meta.get_field("user")
    user_field.remote_field.set_cached_value(user, labeler)
    if labeler is not None:
        user_field.set_cached_value(labeler, user)
    Token._meta.get_field("user").set_cached_value(token, user)
    return token


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        token = token_with_user(key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return (token.user, token)


class ModelBackend(backends.ModelBackend):
    """Django's username-and-password backend; a signed-in session's user comes with their
    labeler profile in the same query, so a labeler page spends no query on finding it."""

    def get_user(self, user_id):
        from django.contrib.auth import get_user_model

        user_model = get_user_model()
        try:
            user = user_model._default_manager.select_related("labeler").get(pk=user_id)
        except user_model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None


# -- brute-force protection (django-axes) -------------------------------------------------------
#
# Every login goes through django.contrib.auth.authenticate with the request — the admin's
# login form, the API's token view and any Django LoginView (the labeler pages) — so django-axes
# (its backend first in AUTHENTICATION_BACKENDS, its middleware last in MIDDLEWARE) counts the
# failures of all of them in one place and refuses a locked-out client before the password is
# checked. The limits and the proxy setup are settings read from the environment
# (config/settings.py, "Login throttling").


def client_ip(request) -> str | None:
    """The address failed logins are counted against (``AXES_CLIENT_IP_CALLABLE``).

    With ``TRUSTED_PROXY_COUNT`` = 0 (the default) it is ``REMOTE_ADDR``: a client cannot choose
    it. Behind N trusted proxies, each of which appends the address it received the request
    from to ``CLIENT_IP_HEADER`` (``X-Forwarded-For``), the client is the N-th address from the
    right; anything further left was written by the client and is ignored. A header with fewer
    addresses than proxies (a request that bypassed them) falls back to ``REMOTE_ADDR``.
    """
    from django.conf import settings

    remote = request.META.get("REMOTE_ADDR")
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    hops = [part.strip() for part in request.META.get(settings.CLIENT_IP_HEADER, "").split(",")]
    hops = [hop for hop in hops if hop]
    if len(hops) < count:
        return remote
    return hops[-count]


def lockout_response(request, original_response=None, credentials=None):
    """What a locked-out login gets (``AXES_LOCKOUT_CALLABLE``): a 429 with ``Retry-After`` (the
    cool-off, which every further attempt restarts). Under /api/ it is the API's one error shape
    with the code ``login_locked_out``; elsewhere (the admin, the labeler pages) a plain page."""
    from axes.helpers import get_cool_off
    from django.http import JsonResponse
    from django.shortcuts import render
    from django.utils.translation import gettext, ngettext

    from config.api import error_body

    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else None
    minutes = -(-seconds // 60) if seconds else None
    # In the language of the request: the labeler pages activate the labeler's; the admin and
    # the API have none active, so they stay in English.
    if minutes:
        detail = ngettext(
            "Too many failed login attempts. Try again in %(n)d minute.",
            "Too many failed login attempts. Try again in %(n)d minutes.",
            minutes,
        ) % {"n": minutes}
    else:
        detail = gettext(
            "Too many failed login attempts. Ask an operations manager to unlock the login."
        )
    if request.path.startswith("/api/"):
        response = JsonResponse(error_body(detail, "login_locked_out"), status=429)
    else:
        response = render(request, "registration/lockout.html", {"detail": detail}, status=429)
    if seconds:
        response["Retry-After"] = str(seconds)
    return response
