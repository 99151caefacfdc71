"""URLs: the admin, API v1 (per app), the OpenAPI schema and docs, and the health check."""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.signals import user_logged_in
from django.urls import include, path, re_path, register_converter
from django.views.i18n import set_language
from drf_spectacular.utils import extend_schema, inline_serializer
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import IdConverter, api_not_found
from config.parsers import PARSER_CLASSES
from health import api as health_api

register_converter(IdConverter, "id")

from assignments.urls import hot_urlpatterns  # noqa: E402 (its routes use the "id" converter)


class TokenApi(ObtainAuthToken):
    """POST username and password → {"token": key}. Errors use the API's one error shape.

    Logging in needs no prior authentication: a stale ``Authorization`` header or session must
    not turn a login into a 401. Bodies are size-limited like every other API input.

    Failed logins are counted by django-axes like the admin's: after ``LOGIN_FAILURE_LIMIT``
    failures the client gets a 429 ``login_locked_out`` with ``Retry-After``, the right password
    included (``config.authentication.lockout_response``). A successful login is announced with
    ``user_logged_in``, as Django's login views do, which clears the client's failures.
    """

    authentication_classes = ()
    permission_classes = (AllowAny,)
    parser_classes = PARSER_CLASSES

    def get_serializer_context(self):
        # authenticate() gets Django's request, not DRF's wrapper: django-axes marks a locked-out
        # client on the request it is given, and its middleware reads Django's.
        return {**super().get_serializer_context(), "request": self.request._request}

    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        token, _ = Token.objects.get_or_create(user=user)
        user_logged_in.send(sender=user.__class__, request=request._request, user=user)
        return Response({"token": token.key})


class WhoAmIApi(APIView):
    """GET → the caller's id and username: a token check for clients, one query (the token)."""

    @extend_schema(
        responses=inline_serializer(
            "WhoAmI", {"id": serializers.IntegerField(), "username": serializers.CharField()}
        )
    )
    def get(self, request):
        return Response({"id": request.user.pk, "username": request.user.get_username()})


admin.site.site_header = "LabelForce operations"
admin.site.site_title = "LabelForce"
admin.site.index_title = "Operations"

api_v1 = [
    path("", include(hot_urlpatterns)),
    path("auth/token/", TokenApi.as_view(), name="auth-token"),
    path("auth/whoami/", WhoAmIApi.as_view(), name="auth-whoami"),
    path("", include("workforce.urls")),
    path("", include("qc.urls")),
    path("", include("assignments.urls")),
    path("", include("payments.urls")),
    path("", include("notifications.urls")),
]

urlpatterns = [
    # First: the API is what most requests are for (a label is two calls).
    path("api/v1/", include((api_v1, "v1"), namespace="v1")),
    path("admin/", admin.site.urls),
    path("labeler/", include("labeler_pages.urls")),
    # The language chooser of the labeler pages (a cookie; labeler_pages.middleware).
    path("i18n/setlang/", set_language, name="set_language"),
    path(
        "api/schema/",
        SpectacularAPIView.as_view(permission_classes=[AllowAny]),
        name="schema",
    ),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="schema", permission_classes=[AllowAny]),
        name="api-docs",
    ),
    path("healthz", health_api.liveness, name="healthz"),
    path("healthz/ready", health_api.readiness, name="healthz-ready"),
    # Keep last: anything under /api/ that no route above matched is a JSON 404.
    re_path(r"^api/", api_not_found, name="api-not-found"),
]

handler400 = "config.api.json_bad_request"
handler404 = "config.api.json_not_found"
handler500 = "health.api.server_error"  # a database that went away is a 503

if settings.DEBUG:  # the demo's webhook receiver (demo/views.py): never in production
    urlpatterns.append(path("demo/", include("demo.urls")))
