"""Reads of notifications, each scoped to the caller: ops see every vendor's webhook endpoints
and deliveries, a vendor manager their own vendors' only (anything else is a 404)."""

from __future__ import annotations

from django.db.models import QuerySet

from config.errors import get_or_not_found
from notifications.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from workforce import selectors as workforce_selectors
from workforce.models import User


def _vendor_ids(actor: User) -> list[int] | None:
    """None for ops (every vendor), else the vendors ``actor`` manages."""
    if workforce_selectors.is_ops(actor):
        return None
    return workforce_selectors.managed_vendor_ids(actor)


def webhook_endpoint_list_for(*, actor: User) -> QuerySet[WebhookEndpoint]:
    endpoints = WebhookEndpoint.objects.select_related("vendor")
    vendor_ids = _vendor_ids(actor)
    return endpoints if vendor_ids is None else endpoints.filter(vendor_id__in=vendor_ids)


def webhook_endpoint_get_for(*, actor: User, pk: int) -> WebhookEndpoint:
    """NotFound (404) for an endpoint of a vendor ``actor`` does not manage."""
    return get_or_not_found(webhook_endpoint_list_for(actor=actor), pk=pk)


def webhook_delivery_list_for(*, actor: User) -> QuerySet[WebhookDelivery]:
    deliveries = WebhookDelivery.objects.select_related("endpoint", "vendor")
    vendor_ids = _vendor_ids(actor)
    return deliveries if vendor_ids is None else deliveries.filter(vendor_id__in=vendor_ids)


def webhook_delivery_get_for(*, actor: User, pk: int) -> WebhookDelivery:
    """NotFound (404) for a delivery to a vendor ``actor`` does not manage."""
    return get_or_not_found(webhook_delivery_list_for(actor=actor), pk=pk)


def webhook_attempts(*, delivery: WebhookDelivery) -> QuerySet[WebhookAttempt]:
    return WebhookAttempt.objects.filter(delivery=delivery).order_by("number")
