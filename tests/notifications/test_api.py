"""The notifications API: preferences per caller, webhook endpoints with the secret shown only on
creation and rotation, the delivery log scoped to the caller's vendor, and bad input as a 400
naming the field with nothing written."""

from __future__ import annotations

import pytest

from notifications import services
from notifications.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:9/hook"


def test_a_labeler_reads_and_sets_their_preferences(client_for, vendor_labeler):
    client = client_for(vendor_labeler.user)
    got = client.get("/api/v1/me/notifications/").json()
    assert got == {
        "events": {
            "labeler.rule_fired": True,
            "labeler.status_changed": True,
            "guide.major_version": True,
            "qualification.expiring": True,
            "flag.answered": True,
        }
    }
    put = client.put(
        "/api/v1/me/notifications/", {"events": {"flag.answered": False}}, format="json"
    )
    assert put.status_code == 200
    assert put.json()["events"]["flag.answered"] is False
    assert put.json()["events"]["labeler.rule_fired"] is True
    assert client.get("/api/v1/me/notifications/").json() == put.json()


def test_a_vendor_manager_has_the_manager_events_only(client_for, manager_a):
    client = client_for(manager_a)
    assert client.get("/api/v1/me/notifications/").json() == {
        "events": {"labeler.rule_fired": True, "labeler.status_changed": True}
    }
    bad = client.put(
        "/api/v1/me/notifications/", {"events": {"flag.answered": False}}, format="json"
    )
    assert bad.status_code == 400
    assert set(bad.json()["fields"]) == {"events"}
    assert client.get("/api/v1/me/notifications/").json()["events"]["labeler.rule_fired"] is True


def test_preferences_reject_a_non_boolean_and_unknown_fields(client_for, vendor_labeler):
    client = client_for(vendor_labeler.user)
    bad = client.put(
        "/api/v1/me/notifications/", {"events": {"flag.answered": "maybe"}}, format="json"
    )
    assert bad.status_code == 400 and "events" in bad.json()["fields"]
    extra = client.put("/api/v1/me/notifications/", {"events": {}, "email": "x"}, format="json")
    assert extra.status_code == 400 and "email" in extra.json()["fields"]


def test_the_secret_is_shown_on_creation_and_rotation_only(client_for, manager_a, vendor_a):
    client = client_for(manager_a)
    created = client.post(
        "/api/v1/webhooks/",
        {"url": URL, "events": ["labeler.status_changed"], "description": "Portal"},
        format="json",
    )
    assert created.status_code == 201
    body = created.json()
    endpoint = WebhookEndpoint.objects.get()
    assert body["secret"] == endpoint.secret and body["secret"].startswith("whsec_")
    assert (body["vendor"], body["events"]) == ("acme", ["labeler.status_changed"])
    assert "secret" not in client.get(f"/api/v1/webhooks/{endpoint.pk}/").json()
    assert "secret" not in client.get("/api/v1/webhooks/").json()["results"][0]
    assert endpoint.secret not in client.get("/api/v1/webhooks/").content.decode()

    rotated = client.post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret/", {}, format="json")
    assert rotated.status_code == 200
    endpoint.refresh_from_db()
    assert rotated.json()["secret"] == endpoint.secret != body["secret"]
    assert endpoint.secret_rotated_at is not None


def test_bad_endpoint_input_is_a_400_per_field_and_writes_nothing(client_for, manager_a, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    client = client_for(manager_a)
    for body, field in [
        ({"url": "http://10.0.0.7/hook"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "https://93.184.215.14/h", "events": ["flag.answered"]}, "events"),
        ({"url": "https://93.184.215.14/h", "secret": "mine"}, "secret"),
    ]:
        response = client.post("/api/v1/webhooks/", body, format="json")
        assert response.status_code == 400, body
        assert field in response.json()["fields"], response.json()
    assert not WebhookEndpoint.objects.exists()


def test_deliveries_are_scoped_to_the_callers_vendor(
    client_for, manager_a, manager_b, vendor_a, vendor_b, ops_user
):
    a = services.webhook_endpoint_create(actor=None, vendor=vendor_a, url=URL)
    b = services.webhook_endpoint_create(actor=None, vendor=vendor_b, url=URL)
    made = {}
    for endpoint in (a, b):
        made[endpoint.vendor.slug] = WebhookDelivery.objects.create(
            endpoint=endpoint,
            vendor=endpoint.vendor,
            event=Event.RULE_FIRED,
            dedupe_key="k",
            body='{"x":1}',
            last_status_code=500,
        )
    WebhookAttempt.objects.create(
        delivery=made["acme"],
        number=1,
        started_at=a.created_at,
        duration_ms=12,
        status_code=500,
        error="HTTP 500",
        next_attempt_at=a.created_at,
    )
    listed = client_for(manager_a).get("/api/v1/webhook-deliveries/").json()["results"]
    assert [d["id"] for d in listed] == [made["acme"].pk]
    detail = client_for(manager_a).get(f"/api/v1/webhook-deliveries/{made['acme'].pk}/").json()
    assert detail["tries"][0]["status_code"] == 500 and detail["body"] == '{"x":1}'
    assert (
        client_for(manager_a).get(f"/api/v1/webhook-deliveries/{made['bravo'].pk}/").status_code
        == 404
    )
    assert client_for(manager_b).get(f"/api/v1/webhooks/{a.pk}/").status_code == 404
    everything = client_for(ops_user).get("/api/v1/webhook-deliveries/").json()["results"]
    assert {d["id"] for d in everything} == {d.pk for d in made.values()}
    filtered = client_for(ops_user).get("/api/v1/webhook-deliveries/?status=failed").json()
    assert filtered["results"] == []


def test_the_delivery_list_is_a_constant_number_of_queries(
    client_for, manager_a, vendor_a, django_assert_max_num_queries
):
    endpoint = services.webhook_endpoint_create(actor=None, vendor=vendor_a, url=URL)
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint=endpoint,
            vendor=vendor_a,
            event=Event.RULE_FIRED,
            dedupe_key=f"k{i}",
            body="{}",
        )
        for i in range(20)
    )
    client = client_for(manager_a)
    with django_assert_max_num_queries(6):
        response = client.get("/api/v1/webhook-deliveries/")
    assert len(response.json()["results"]) == 20


def test_a_form_body_creates_an_active_endpoint_and_a_patch_keeps_what_it_omits(
    client_for, manager_a
):
    client = client_for(manager_a)
    created = client.post(
        "/api/v1/webhooks/",
        "url=http%3A%2F%2F127.0.0.1%3A9%2F&events=labeler.rule_fired",
        content_type="application/x-www-form-urlencoded",
    )
    assert created.status_code == 201, created.content
    assert created.json()["is_active"] is True
    pk = created.json()["id"]
    off = client.patch(f"/api/v1/webhooks/{pk}/", {"is_active": False}, format="json")
    assert off.json()["is_active"] is False
    renamed = client.patch(f"/api/v1/webhooks/{pk}/", {"description": "Portal"}, format="json")
    assert (renamed.json()["is_active"], renamed.json()["description"]) == (False, "Portal")
