"""``GET /labelers/?vendor=`` takes the vendor's id or its slug; a vendor the caller cannot see
(or that does not exist) is a 400 naming the field — never a silent empty list."""

from __future__ import annotations

import pytest

from tests.factories import make_labeler

pytestmark = pytest.mark.django_db


def _ids(response):
    assert response.status_code == 200, response.json()
    return {row["id"] for row in response.json()["results"]}


@pytest.fixture
def labelers(vendor_a, vendor_b):
    return {
        "a": {make_labeler(vendor=vendor_a).pk for _ in range(2)},
        "b": {make_labeler(vendor=vendor_b).pk},
        "internal": {make_labeler().pk},
    }


def test_id_and_slug_give_the_same_labelers(client_for, ops_user, vendor_a, labelers):
    client = client_for(ops_user)
    by_id = _ids(client.get("/api/v1/labelers/", {"vendor": str(vendor_a.pk)}))
    by_slug = _ids(client.get("/api/v1/labelers/", {"vendor": "acme"}))
    assert by_id == by_slug == labelers["a"]


def test_a_manager_filters_their_vendor_by_id(client_for, manager_a, vendor_a, labelers):
    reply = client_for(manager_a).get("/api/v1/labelers/", {"vendor": vendor_a.pk})
    assert _ids(reply) == labelers["a"]


@pytest.mark.parametrize("value", ["999999", "nobody", "x" * 100, "99999999999999999999"])
def test_unknown_vendor_is_a_400(client_for, ops_user, labelers, value):
    reply = client_for(ops_user).get("/api/v1/labelers/", {"vendor": value})
    assert reply.status_code == 400
    assert reply.json()["code"] == "invalid" and "vendor" in reply.json()["fields"]


def test_another_vendors_id_is_the_same_400_for_a_manager(
    client_for, manager_a, vendor_b, labelers
):
    other = client_for(manager_a).get("/api/v1/labelers/", {"vendor": vendor_b.pk})
    missing = client_for(manager_a).get("/api/v1/labelers/", {"vendor": 999999})
    assert other.status_code == missing.status_code == 400
    assert other.json() == missing.json()
