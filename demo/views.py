"""The demo's webhook receiver: what a vendor portal does with LabelForce's webhooks, on the demo
server itself (routed only with DEBUG on, ``demo.urls``), so the demo's webhook deliveries have
somewhere to go.

It checks the ``X-LabelForce-Signature`` header against the secret of the webhook endpoints that
point at it (the demo's own, ``demo.seed.operations``): 204 and the event logged when one
verifies, 401 otherwise. A real receiver keeps its secret in its own configuration; this one
reads it from the endpoint because it runs in the same database.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from notifications import webhooks
from notifications.models import WebhookEndpoint

log = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def webhook_receiver(request: HttpRequest) -> HttpResponse:
    """Verify a webhook's signature with the secret of an endpoint whose URL's path is this
    request's: 204 if one verifies, 401 if none does."""
    signature = request.headers.get(webhooks.SIGNATURE_HEADER, "")
    secrets = [
        secret
        for url, secret in WebhookEndpoint.objects.values_list("url", "secret")
        if urlsplit(url).path == request.path
    ]
    if not any(webhooks.verify(secret, request.body, signature) for secret in secrets):
        log.warning("demo webhook receiver: signature does not verify")
        return HttpResponse("The signature does not verify.\n", status=401)
    log.warning(
        "demo webhook receiver: %s verified (%d bytes)",
        request.headers.get(webhooks.EVENT_HEADER, "?"),
        len(request.body),
    )
    return HttpResponse(status=204)
