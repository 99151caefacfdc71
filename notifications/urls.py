from django.urls import path

from notifications import api

urlpatterns = [
    path("me/notifications/", api.MyNotificationsApi.as_view(), name="me-notifications"),
    path("webhooks/", api.WebhookListCreateApi.as_view(), name="webhook-list"),
    path("webhooks/<id:pk>/", api.WebhookDetailApi.as_view(), name="webhook-detail"),
    path(
        "webhooks/<id:pk>/rotate-secret/",
        api.WebhookRotateSecretApi.as_view(),
        name="webhook-rotate-secret",
    ),
    path("webhook-deliveries/", api.WebhookDeliveryListApi.as_view(), name="webhook-delivery-list"),
    path(
        "webhook-deliveries/<id:pk>/",
        api.WebhookDeliveryDetailApi.as_view(),
        name="webhook-delivery-detail",
    ),
]
