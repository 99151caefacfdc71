"""The labeler's e-mail choices page (labeler/notifications/) and the notifications admin."""

from __future__ import annotations

import pytest
from django.urls import reverse

from notifications import services
from notifications.models import (
    Event,
    Notification,
    NotificationPreference,
    WebhookDelivery,
    WebhookEndpoint,
)
from tests.factories import admin_url

pytestmark = pytest.mark.django_db


def test_the_labeler_turns_e_mails_off_and_on_from_their_page(client, vendor_labeler):
    client.force_login(vendor_labeler.user)
    url = reverse("labeler:notifications")
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('type="checkbox" name="on"') == 5
    assert html.count(" checked>") == 5
    assert 'aria-current="page"' in html and "acme1@example.test" in html

    on = [e for e in services.events_for(vendor_labeler.user) if e != Event.FLAG_ANSWERED]
    saved = client.post(url, {"on": on})
    assert saved.status_code == 302
    assert services.preferences_get(user=vendor_labeler.user)[Event.FLAG_ANSWERED] is False
    assert client.get(url).content.decode().count(" checked>") == 4
    client.post(url, {"on": [*on, Event.FLAG_ANSWERED]})
    assert all(services.preferences_get(user=vendor_labeler.user).values())


def test_the_page_is_linked_from_the_nav(client, vendor_labeler):
    client.force_login(vendor_labeler.user)
    home = client.get(reverse("labeler:home")).content.decode()
    assert f'href="{reverse("labeler:notifications")}"' in home


def test_a_non_labeler_gets_the_not_a_labeler_page(client, manager_a):
    client.force_login(manager_a)
    assert client.get(reverse("labeler:notifications")).status_code == 403


@pytest.fixture
def rows(vendor_a, manager_a, vendor_labeler):
    endpoint = services.webhook_endpoint_create(
        actor=manager_a, vendor=vendor_a, url="http://127.0.0.1:9/"
    )
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        vendor=vendor_a,
        event=Event.RULE_FIRED,
        dedupe_key="k",
        body="{}",
        status=WebhookDelivery.Status.FAILED,
        attempts=6,
    )
    notification = Notification.objects.create(
        recipient=vendor_labeler.user,
        email="acme1@example.test",
        event=Event.FLAG_ANSWERED,
        subject="s",
        body="b",
        dedupe_key="k",
    )
    preference = NotificationPreference.objects.create(user=manager_a, muted=[])
    return {
        WebhookEndpoint: endpoint,
        WebhookDelivery: delivery,
        Notification: notification,
        NotificationPreference: preference,
    }


@pytest.mark.parametrize(
    "model", [WebhookEndpoint, WebhookDelivery, Notification, NotificationPreference]
)
def test_admin_pages_render(model, rows, ops_client):
    assert ops_client.get(admin_url(model, "changelist")).status_code == 200
    assert ops_client.get(admin_url(model, "changelist") + "?q=a").status_code == 200
    assert ops_client.get(admin_url(model, "change", rows[model].pk)).status_code == 200


def test_the_admin_never_shows_a_secret_but_on_creation(rows, ops_client, vendor_a):
    endpoint = rows[WebhookEndpoint]
    page = ops_client.get(admin_url(WebhookEndpoint, "change", endpoint.pk)).content.decode()
    assert endpoint.secret not in page
    created = ops_client.post(
        admin_url(WebhookEndpoint, "add"),
        {
            "vendor": vendor_a.pk,
            "url": "http://127.0.0.1:9/two",
            "description": "",
            "events": [Event.RULE_FIRED],
            "is_active": "on",
        },
        follow=True,
    )
    new = WebhookEndpoint.objects.exclude(pk=endpoint.pk).get()
    assert new.secret in created.content.decode()
    assert new.events == [Event.RULE_FIRED]


def test_the_admin_refuses_a_private_url_in_the_form(rows, ops_client, vendor_a, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    response = ops_client.post(
        admin_url(WebhookEndpoint, "add"),
        {"vendor": vendor_a.pk, "url": "http://10.0.0.1/", "events": [Event.RULE_FIRED]},
    )
    assert response.status_code == 200
    assert "Private and loopback addresses are not allowed." in response.content.decode()
    assert WebhookEndpoint.objects.count() == 1


def test_redeliver_starts_a_new_round(rows, ops_client, monkeypatch):
    from notifications import tasks

    queued = []
    monkeypatch.setattr(tasks.webhook_deliver, "delay", queued.append)
    delivery = rows[WebhookDelivery]
    response = ops_client.post(
        admin_url(WebhookDelivery, "changelist"),
        {"action": "redeliver", "_selected_action": [delivery.pk]},
    )
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (WebhookDelivery.Status.PENDING, 0)
    assert queued == [delivery.pk]
