"""What LabelForce says about what it does not do yet is true, and said where users look: an
invited labeler cannot log in (the API and the admin say so), pay is planned (the README says
nowhere that it exists), and no document cites a file the repository does not have."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.urls import reverse

from workforce.models import User

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)


def test_an_invited_labeler_cannot_log_in_and_the_api_says_so(client_for, ops_user, api_client):
    response = client_for(ops_user).post(
        "/api/v1/labelers/", {"username": "invitee", "kind": "internal"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "invited"
    assert body["can_log_in"] is False
    assert "cannot log in" in body["login_note"]
    assert "invitation link" in body["login_note"] and "/invitation/" in body["login_note"]
    assert not User.objects.get(username="invitee").has_usable_password()
    # And indeed: no password opens the login.
    for password in ("", "invitee", "password"):
        refused = api_client.post(
            "/api/v1/auth/token/", {"username": "invitee", "password": password}
        )
        assert refused.status_code in (400, 429), refused.status_code

    # The documentation of the route says it too.
    schema = client_for(ops_user).get("/api/schema/", {"format": "json"}).json()
    post = schema["paths"]["/api/v1/labelers/"]["post"]
    assert "cannot log in" in post["description"]
    created = post["responses"]["201"]["content"]["application/json"]["schema"]["$ref"]
    assert {"can_log_in", "login_note"} <= set(
        schema["components"]["schemas"][created.rsplit("/", 1)[1]]["properties"]
    )


def test_the_admin_says_an_added_labeler_cannot_log_in(client, ops_user):
    client.force_login(ops_user)
    add = reverse("admin:workforce_labeler_add")
    page = client.get(add).content.decode()
    assert "cannot log in" in page and "invitation link" in page
    response = client.post(
        add,
        {
            "username": "admin-invitee",
            "kind": "internal",
            "seniority": "labeler",
            "timezone": "UTC",
            "languages": "",
        },
        follow=True,
    )
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    assert any("admin-invitee cannot log in yet" in m for m in shown), shown


def _paragraphs(text: str) -> list[str]:
    """Paragraphs and list items as one line each; table rows one by one."""
    blocks = []
    for block in re.split(r"\n\s*\n|\n(?=- )", text):
        if block.lstrip().startswith("|"):
            blocks += block.splitlines()
        else:
            blocks.append(" ".join(block.split()))
    return blocks


def test_the_readme_no_longer_calls_pay_planned_now_that_it_is_built():
    payments = apps.get_app_config("payments")
    assert list(payments.get_models())  # rates, periods, the ledger, invoices exist
    readme = (ROOT / "README.md").read_text()
    money = re.compile(r"\b(pay rates?|pay periods?|ledger|statements|invoices?|earnings)\b", re.I)
    stale = [
        p
        for p in _paragraphs(readme)
        if money.search(p) and re.search(r"\bplanned\b|not built|being built", p)
    ]
    assert stale == []


def _cited_files(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w./-])([A-Za-z][\w-]*(?:/[\w.-]+)*\.md)\b", text))


def test_no_document_or_docstring_cites_a_file_the_repository_lacks():
    sources = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for app in ("workforce", "qc", "assignments", "payments", "labeler_pages", "demo", "config"):
        sources += sorted((ROOT / app).rglob("*.py"))
    missing = set()
    for source in sources:
        for cited in _cited_files(source.read_text()):
            if not any((base / cited).exists() for base in (ROOT, ROOT / "docs", source.parent)):
                missing.add(f"{source.relative_to(ROOT)}: {cited}")
    assert sorted(missing) == []
