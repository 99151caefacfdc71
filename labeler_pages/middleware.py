"""The language of the labeler pages.

Under ``/labeler/`` a page speaks, in order of preference: the language the person chose on the
pages (Django's ``set_language`` cookie), the first of their labeler profile's languages that the
pages are translated into, the browser's ``Accept-Language``, English. Everywhere else (the
admin, the API) Django's default language stays on: operations and the API speak English.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import translation
from django.utils.cache import patch_vary_headers

PREFIX = "/labeler/"


def _supported(code: str) -> str | None:
    # Lower-cased as Django spells its language codes (a profile's "pt-PT" is "pt-pt"): Django
    # returns the variant in the case it was given.
    try:
        return translation.get_supported_language_variant(code).lower()
    except LookupError:
        return None


def labeler_language(request) -> str:
    """The language code the labeler pages use for this request (see the module docstring)."""
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    if chosen and (code := _supported(chosen)):
        return code
    user = getattr(request, "user", None)
    labeler = getattr(user, "labeler", None) if user and user.is_authenticated else None
    for language in getattr(labeler, "languages", None) or ():
        if isinstance(language, str) and (code := _supported(language)):
            return code
    return translation.get_language_from_request(request, check_path=False)


class LabelerLanguageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(PREFIX):
            return self.get_response(request)
        language = labeler_language(request)
        translation.activate(language)
        request.LANGUAGE_CODE = language
        try:
            response = self.get_response(request)
        finally:
            translation.deactivate()
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
        response.headers.setdefault("Content-Language", language)
        return response
