"""Notifications API v1: the caller's own e-mail preferences, and the vendor portal's webhook
endpoints and delivery log (a vendor manager's own vendors only; ops see all; anything else is a
404). A secret is in the answer to creating an endpoint and to rotating its secret, nowhere
else."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import StrictSerializer, parse_input
from notifications import selectors, services
from notifications.models import WEBHOOK_EVENTS, Event, WebhookDelivery, WebhookEndpoint
from workforce import selectors as workforce_selectors
from workforce.models import Vendor
from workforce.permissions import OPS_OR_VENDOR_MANAGER

# -- preferences -------------------------------------------------------------------------------


class NotificationPreferences(StrictSerializer):
    """The caller's e-mail choices, one boolean per event type."""

    events = serializers.DictField(
        child=serializers.BooleanField(),
        help_text="Event type → whether to e-mail it. GET lists every event the caller may "
        "receive (a labeler's, a vendor manager's, or both); PUT may name some of them and "
        "leaves the others as they are.",
    )


class MyNotificationsApi(APIView):
    """The caller's own e-mail preferences: every event is on until turned off."""

    @extend_schema(responses=NotificationPreferences)
    def get(self, request):
        return Response({"events": services.preferences_get(user=request.user)})

    @extend_schema(request=NotificationPreferences, responses=NotificationPreferences)
    def put(self, request):
        data = parse_input(NotificationPreferences, request.data)
        choices = services.preferences_set(user=request.user, choices=data["events"])
        return Response({"events": choices})


# -- webhook endpoints -------------------------------------------------------------------------


class WebhookEndpointOut(serializers.ModelSerializer):
    vendor = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    events = serializers.ListField(child=serializers.ChoiceField(choices=WEBHOOK_EVENTS))

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "vendor",
            "url",
            "description",
            "events",
            "is_active",
            "created_at",
            "secret_rotated_at",
        ]


class WebhookEndpointWithSecretOut(WebhookEndpointOut):
    secret = serializers.CharField(
        help_text="The signing secret. Shown only in this answer: keep it; rotate to get a new one."
    )

    class Meta(WebhookEndpointOut.Meta):
        fields = [*WebhookEndpointOut.Meta.fields, "secret"]


class WebhookEndpointIn(StrictSerializer):
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WEBHOOK_EVENTS),
        required=False,
        max_length=len(WEBHOOK_EVENTS),
        help_text="Default: every webhook event.",
    )
    description = serializers.CharField(required=False, allow_blank=True, max_length=200)
    # A default, so that a form body without the field (HTML checkbox semantics) stays active.
    is_active = serializers.BooleanField(required=False, default=True)


class WebhookEndpointCreateIn(WebhookEndpointIn):
    vendor = serializers.SlugField(
        required=False,
        help_text="The vendor's slug: required for ops and for a manager of several vendors.",
    )


class WebhookListCreateApi(generics.ListAPIView):
    """GET the caller's vendors' webhook endpoints (ops: all); POST creates one, answering its
    secret once."""

    permission_classes = OPS_OR_VENDOR_MANAGER
    serializer_class = WebhookEndpointOut

    def get_queryset(self):
        return selectors.webhook_endpoint_list_for(actor=self.request.user)

    @extend_schema(request=WebhookEndpointCreateIn, responses={201: WebhookEndpointWithSecretOut})
    def post(self, request):
        data = parse_input(WebhookEndpointCreateIn, request.data)
        vendor = _vendor_for(request.user, data.pop("vendor", None))
        endpoint = services.webhook_endpoint_create(actor=request.user, vendor=vendor, **data)
        return Response(WebhookEndpointWithSecretOut(endpoint).data, status=status.HTTP_201_CREATED)


def _vendor_for(user, slug: str | None) -> Vendor:
    vendors = Vendor.objects.order_by("pk")
    if not workforce_selectors.is_ops(user):
        vendors = vendors.filter(pk__in=workforce_selectors.managed_vendor_ids(user))
    elif slug is None:
        raise serializers.ValidationError({"vendor": ["Say which vendor (its slug)."]})
    if slug is not None:
        vendors = vendors.filter(slug=slug)
    found = list(vendors[:2])
    if not found:
        raise serializers.ValidationError({"vendor": ["Unknown vendor."]})
    if len(found) > 1:
        raise serializers.ValidationError({"vendor": ["You manage several vendors; say which."]})
    return found[0]


class WebhookDetailApi(APIView):
    permission_classes = OPS_OR_VENDOR_MANAGER

    @extend_schema(responses=WebhookEndpointOut)
    def get(self, request, pk: int):
        endpoint = selectors.webhook_endpoint_get_for(actor=request.user, pk=pk)
        return Response(WebhookEndpointOut(endpoint).data)

    @extend_schema(request=WebhookEndpointIn, responses=WebhookEndpointOut)
    def patch(self, request, pk: int):
        endpoint = selectors.webhook_endpoint_get_for(actor=request.user, pk=pk)
        data = parse_input(WebhookEndpointIn, request.data, partial=True)
        endpoint = services.webhook_endpoint_update(
            actor=request.user, endpoint=endpoint, data=data
        )
        return Response(WebhookEndpointOut(endpoint).data)

    @extend_schema(responses={204: OpenApiResponse(description="Deleted, with its log.")})
    def delete(self, request, pk: int):
        endpoint = selectors.webhook_endpoint_get_for(actor=request.user, pk=pk)
        services.webhook_endpoint_delete(actor=request.user, endpoint=endpoint)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateSecretApi(APIView):
    """A new signing secret, answered once; the old one stops working at once."""

    permission_classes = OPS_OR_VENDOR_MANAGER

    @extend_schema(
        request={
            "application/json": {"type": "object", "properties": {}, "additionalProperties": False}
        },
        responses=WebhookEndpointWithSecretOut,
    )
    def post(self, request, pk: int):
        endpoint = selectors.webhook_endpoint_get_for(actor=request.user, pk=pk)
        parse_input(StrictSerializer, request.data)
        endpoint = services.webhook_endpoint_rotate_secret(actor=request.user, endpoint=endpoint)
        return Response(WebhookEndpointWithSecretOut(endpoint).data)


# -- deliveries --------------------------------------------------------------------------------


class WebhookAttemptOut(serializers.Serializer):
    number = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    duration_ms = serializers.IntegerField()
    status_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)


class WebhookDeliveryOut(serializers.ModelSerializer):
    endpoint = serializers.IntegerField(source="endpoint_id")
    vendor = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    url = serializers.CharField(source="endpoint.url")

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "event",
            "endpoint",
            "vendor",
            "url",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "created_at",
            "delivered_at",
        ]


class WebhookDeliveryDetailOut(WebhookDeliveryOut):
    body = serializers.CharField(help_text="The JSON body sent, byte for byte.")
    tries = serializers.SerializerMethodField(help_text="Every attempt, first first.")

    class Meta(WebhookDeliveryOut.Meta):
        fields = [*WebhookDeliveryOut.Meta.fields, "body", "tries"]

    @extend_schema_field(WebhookAttemptOut(many=True))
    def get_tries(self, obj: WebhookDelivery) -> list[dict]:
        return WebhookAttemptOut(selectors.webhook_attempts(delivery=obj), many=True).data


class WebhookDeliveryFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=WebhookDelivery.Status.choices)
    event = django_filters.ChoiceFilter(choices=Event.choices)
    endpoint = django_filters.NumberFilter(field_name="endpoint_id")

    class Meta:
        model = WebhookDelivery
        fields = ["status", "event", "endpoint"]


class WebhookDeliveryListApi(generics.ListAPIView):
    """The delivery log of the caller's vendors' endpoints (ops: all), newest first."""

    permission_classes = OPS_OR_VENDOR_MANAGER
    serializer_class = WebhookDeliveryOut
    filterset_class = WebhookDeliveryFilter

    def get_queryset(self):
        return selectors.webhook_delivery_list_for(actor=self.request.user)


class WebhookDeliveryDetailApi(APIView):
    permission_classes = OPS_OR_VENDOR_MANAGER

    @extend_schema(responses=WebhookDeliveryDetailOut)
    def get(self, request, pk: int):
        delivery = selectors.webhook_delivery_get_for(actor=request.user, pk=pk)
        return Response(WebhookDeliveryDetailOut(delivery).data)
