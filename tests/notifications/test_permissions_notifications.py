"""Role-by-endpoint matrix of the notifications API: everyone signed in reads and writes their own
e-mail preferences; webhook endpoints and deliveries are for ops (all) and vendor managers (their
own vendor's: another vendor's endpoint or delivery is a 404, for reading and for writing);
labelers get 403, anonymous 401."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from notifications import services
from notifications.models import Event, WebhookDelivery
from tests.permissions import Row, matrix_test, route_test

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:9/hook"

MATRIX = (
    # ops, manager_a, manager_b, internal_labeler, vendor_labeler, anonymous
    Row("my preferences", "GET", "api/v1/me/notifications/", "/api/v1/me/notifications/",
        (200, 200, 200, 200, 200, 401)),
    Row("set my preferences", "PUT", "api/v1/me/notifications/", "/api/v1/me/notifications/",
        (200, 200, 200, 200, 200, 401), {"events": {}}),
    Row("list endpoints", "GET", "api/v1/webhooks/", "/api/v1/webhooks/",
        (200, 200, 200, 403, 403, 401)),
    # Without a vendor: a manager's own is implied; ops must say which (400).
    Row("create endpoint", "POST", "api/v1/webhooks/", "/api/v1/webhooks/",
        (400, 201, 201, 403, 403, 401), {"url": URL}),
    Row("read A's endpoint", "GET", "api/v1/webhooks/<id:pk>/", "/api/v1/webhooks/{endpoint_a}/",
        (200, 200, 404, 403, 403, 401)),
    Row("change A's endpoint", "PATCH", "api/v1/webhooks/<id:pk>/",
        "/api/v1/webhooks/{endpoint_a}/", (200, 200, 404, 403, 403, 401), {"is_active": False}),
    Row("delete A's endpoint", "DELETE", "api/v1/webhooks/<id:pk>/",
        "/api/v1/webhooks/{endpoint_a}/", (204, 204, 404, 403, 403, 401)),
    Row("rotate A's secret", "POST", "api/v1/webhooks/<id:pk>/rotate-secret/",
        "/api/v1/webhooks/{endpoint_a}/rotate-secret/", (200, 200, 404, 403, 403, 401), {}),
    Row("list deliveries", "GET", "api/v1/webhook-deliveries/", "/api/v1/webhook-deliveries/",
        (200, 200, 200, 403, 403, 401)),
    Row("read A's delivery", "GET", "api/v1/webhook-deliveries/<id:pk>/",
        "/api/v1/webhook-deliveries/{delivery_a}/", (200, 200, 404, 403, 403, 401)),
)  # fmt: skip


@pytest.fixture
def world(cast):
    endpoint = services.webhook_endpoint_create(actor=None, vendor=cast.vendor_a, url=URL)
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        vendor=cast.vendor_a,
        event=Event.LABELER_STATUS_CHANGED,
        dedupe_key="k",
        body="{}",
    )
    return SimpleNamespace(
        users=cast.users, ids={**cast.ids, "endpoint_a": endpoint.pk, "delivery_a": delivery.pk}
    )


test_matrix = matrix_test(MATRIX)
test_matrix_rows_resolve_to_their_route = route_test(MATRIX)
