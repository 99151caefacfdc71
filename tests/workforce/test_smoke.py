import pytest

pytestmark = pytest.mark.django_db


def test_me_for_vendor_labeler(client_for, vendor_labeler):
    response = client_for(vendor_labeler.user).get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json()["labeler"]["public_code"] == vendor_labeler.public_code
    assert response.json()["roles"] == ["labeler"]


def test_manager_b_cannot_see_vendor_a_labeler(client_for, manager_b, vendor_labeler):
    response = client_for(manager_b).get(f"/api/v1/labelers/{vendor_labeler.pk}/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found", "fields": {}}
