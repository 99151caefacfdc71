"""The demo's routes, mounted at /demo/ only with DEBUG on (config/urls.py)."""

from django.urls import path

from demo import views

app_name = "demo"

urlpatterns = [
    path("webhook-receiver/", views.webhook_receiver, name="webhook-receiver"),
]
