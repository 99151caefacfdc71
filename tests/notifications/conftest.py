import pytest

from tests.notifications.factories import with_email


@pytest.fixture(autouse=True)
def _webhooks_may_call_localhost(settings):
    """The tests' webhook receiver runs on 127.0.0.1, which production refuses."""
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    settings.SITE_URL = "https://labelforce.example.test"


# The role fixtures of tests/conftest.py, with an e-mail address to write to.


@pytest.fixture
def vendor_labeler(vendor_labeler):
    return with_email(vendor_labeler)


@pytest.fixture
def internal_labeler(internal_labeler):
    return with_email(internal_labeler)


@pytest.fixture
def vendor_b_labeler(vendor_b_labeler):
    return with_email(vendor_b_labeler)
