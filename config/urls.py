"""URLs: the admin, API v1 (per app), the OpenAPI schema and docs, and the health check."""

from django.contrib import admin
from django.urls import include, path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import AllowAny

from config.api import IdConverter, healthz
from config.parsers import PARSER_CLASSES

register_converter(IdConverter, "id")


class TokenApi(ObtainAuthToken):
    """POST username and password → {"token": key}. Errors use the API's one error shape.

    Logging in needs no prior authentication: a stale ``Authorization`` header or session must
    not turn a login into a 401. Bodies are size-limited like every other API input.
    """

    authentication_classes = ()
    permission_classes = (AllowAny,)
    parser_classes = PARSER_CLASSES


admin.site.site_header = "LabelForce operations"
admin.site.site_title = "LabelForce"
admin.site.index_title = "Operations"

api_v1 = [
    path("auth/token/", TokenApi.as_view(), name="auth-token"),
    path("", include("workforce.urls")),
    path("", include("qc.urls")),
    path("", include("assignments.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "v1"), namespace="v1")),
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
    path("healthz", healthz, name="healthz"),
]

handler400 = "config.api.json_bad_request"
handler404 = "config.api.json_not_found"
handler500 = "config.api.json_server_error"
