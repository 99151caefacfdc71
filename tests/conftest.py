"""Role fixtures shared by every test: an operations manager, managers of vendors A and B, an
internal labeler, a vendor labeler (of A), a senior labeler, and API clients for each."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from tests.assignments.factories import make_control_world
from tests.factories import UserFactory, VendorFactory, make_labeler
from tests.labeler_pages.conftest import CHROMIUM
from tests.permissions import role_users
from workforce import roles, services

# Browser tests (tests/labeler_pages, tests/operations, tests/config): one Playwright and one
# chromium for the whole session. Playwright's sync API refuses to start while another of its
# sessions is open in the same thread, so every browser test shares these two.


@pytest.fixture(scope="session")
def _playwright():
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls in the
    # same thread are still synchronous, so Django's guard against async use does not apply.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(_playwright):
    browser = _playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    yield browser
    browser.close()


requires_postgres = pytest.mark.skipif(
    not settings.IS_POSTGRES,
    reason="needs PostgreSQL (row locks and real concurrency); set DATABASE_URL to run it",
)


@pytest.fixture(autouse=True)
def _plain_http(settings):
    """Tests talk plain HTTP to the test client; the TLS redirect is a deployment concern
    checked by ``check --deploy`` instead."""
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Production-strength PBKDF2 costs a noticeable fraction of a second per user; tests need
    passwords to check, not to resist cracking."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def vendor_a(db):
    return VendorFactory(name="Acme Annotation", slug="acme")


@pytest.fixture
def vendor_b(db):
    return VendorFactory(name="Bravo Labels", slug="bravo")


@pytest.fixture
def ops_user(db):
    user = UserFactory(username="ops", is_staff=True)
    user.groups.add(Group.objects.get(name=roles.OPS_MANAGERS))
    return user


@pytest.fixture
def manager_a(vendor_a):
    user = UserFactory(username="manager_a")
    services.vendor_manager_add(actor=None, vendor=vendor_a, user=user)
    return user


@pytest.fixture
def manager_b(vendor_b):
    user = UserFactory(username="manager_b")
    services.vendor_manager_add(actor=None, vendor=vendor_b, user=user)
    return user


@pytest.fixture
def internal_labeler(db):
    return make_labeler(username="internal1")


@pytest.fixture
def vendor_labeler(vendor_a):
    return make_labeler(vendor=vendor_a, username="acme1", external_id="A-001")


@pytest.fixture
def vendor_b_labeler(vendor_b):
    return make_labeler(vendor=vendor_b, username="bravo1", external_id="B-001")


@pytest.fixture
def senior_labeler(db):
    return make_labeler(username="senior1", seniority="senior")


@pytest.fixture
def cast(
    vendor_a,
    vendor_b,
    ops_user,
    manager_a,
    manager_b,
    internal_labeler,
    vendor_labeler,
    vendor_b_labeler,
):
    """Every role fixture above at once, for the permission matrices' worlds: each by its
    fixture name; ``users``, the user behind each role of the matrix (``role_users``); and
    ``ids``, the ids of the vendors and labelers as the matrices' routes name them."""
    return SimpleNamespace(
        vendor_a=vendor_a,
        vendor_b=vendor_b,
        ops_user=ops_user,
        manager_a=manager_a,
        manager_b=manager_b,
        internal_labeler=internal_labeler,
        vendor_labeler=vendor_labeler,
        vendor_b_labeler=vendor_b_labeler,
        users=role_users(ops_user, manager_a, manager_b, internal_labeler, vendor_labeler),
        ids={
            "vendor_a": vendor_a.pk,
            "vendor_b": vendor_b.pk,
            "vendor_labeler": vendor_labeler.pk,
            "internal_labeler": internal_labeler.pk,
            "b_labeler": vendor_b_labeler.pk,
        },
    )


def _client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def ops_client(client, ops_user):
    """The Django test client logged in as the operations manager (the admin's user)."""
    client.force_login(ops_user)
    return client


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def client_for():
    return _client_for


@pytest.fixture
def control_world(django_capture_on_commit_callbacks):
    """A project with a one-item control set whose control task two labelers answered (gold
    "crack"; one answered "crack", one "rust"), and a staff senior: see
    ``tests.assignments.factories.make_control_world``."""
    return make_control_world(django_capture_on_commit_callbacks)
