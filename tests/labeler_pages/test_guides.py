"""The guide page: the current version rendered from Markdown and sanitized, its number, what
changed since the labeler's last acknowledgement, and the acknowledge button (idempotent)."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from labeler_pages.markdown import render_markdown
from qc.models import GuideAcknowledgement, GuideVersion
from tests.qc.factories import (
    GuideFactory,
    acknowledge,
    make_draft,
    make_published_guide,
    publish_version,
)


def guide_url(guide) -> str:
    return reverse("labeler:guide", args=[guide.pk])


def ack_url(guide) -> str:
    return reverse("labeler:guide-acknowledge", args=[guide.pk])


# -- rendering and sanitizing (no database) -----------------------------------------------------


def test_markdown_is_rendered_with_headings_below_the_pages_title():
    html = render_markdown("# Poles\n\nLabel **every** crack.\n\n- one\n- two")
    assert "<h2>Poles</h2>" in html
    assert "<strong>every</strong>" in html
    assert "<li>one</li>" in html
    assert "<h1" not in html


@pytest.mark.parametrize(
    ("markdown", "forbidden"),
    [
        ("Hello <script>alert('x')</script> world", ["<script", "alert("]),
        ('<img src="https://img.example/a.png" onerror="alert(1)">', ["onerror", "alert("]),
        ("[click](javascript:alert(1))", ["javascript:", "alert("]),
        ('<a href="JaVaScRiPt:alert(1)">x</a>', ["javascript:", "alert("]),
        ('<iframe src="https://evil.example/"></iframe>', ["<iframe", "evil.example"]),
        ('<p style="position:fixed" onclick="steal()">hi</p>', ["style=", "onclick", "steal"]),
        ("<form action='/x'><input name='a'></form>", ["<form", "<input"]),
        ("<style>body{display:none}</style>", ["<style", "display:none"]),
    ],
)
def test_markdown_is_sanitized(markdown, forbidden):
    html = render_markdown(markdown).lower()
    for fragment in forbidden:
        assert fragment.lower() not in html


def test_sanitizing_keeps_safe_links_and_images():
    html = render_markdown("[guide](https://example.org/g) ![pole](https://img.example/p.png)")
    assert 'href="https://example.org/g"' in html
    assert 'rel="noopener noreferrer nofollow"' in html
    assert 'src="https://img.example/p.png"' in html
    assert 'alt="pole"' in html


# -- the page -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_guide_page_shows_the_current_version_rendered_and_sanitized(labeler_client):
    guide = GuideFactory(name="Utility poles")
    publish_version(guide, body="# Old\n\nThe old text.")
    publish_version(
        guide,
        body="# Cracks\n\nLabel **cracks**. <script>alert('x')</script>"
        '<img src="https://img.example/a.png" onerror="alert(2)">',
    )
    response = labeler_client.get(guide_url(guide))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Utility poles</h1>" in html
    assert "1.1" in html
    assert "<h2>Cracks</h2>" in html and "<strong>cracks</strong>" in html
    assert "The old text" not in html
    assert "alert(" not in html and "onerror" not in html
    # label definitions of the version
    assert "Orange-brown corrosion." in html
    assert f'action="{ack_url(guide)}"' in html


@pytest.mark.django_db
def test_guide_page_lists_what_changed_since_the_last_acknowledgement(labeler_client):
    guide, _ = make_published_guide()
    acknowledge(labeler_client.labeler, guide)
    publish_version(guide, change_summary="Rust now includes surface stains.")
    publish_version(
        guide, bump=GuideVersion.Bump.MAJOR, change_summary="Boxes must be tight to the pole."
    )
    html = labeler_client.get(guide_url(guide)).content.decode()
    assert "What changed since version 1.0" in html
    assert "Version 1.1" in html and "Rust now includes surface stains." in html
    assert "Version 2.0" in html and "Boxes must be tight to the pole." in html
    assert "needs your acknowledgement" in html
    assert "acknowledge" in html.lower()


@pytest.mark.django_db
def test_an_up_to_date_labeler_sees_no_button_and_no_changes(labeler_client):
    guide, _version = make_published_guide()
    acknowledge(labeler_client.labeler, guide)
    html = labeler_client.get(guide_url(guide)).content.decode()
    assert "You are up to date with this guide." in html
    assert ack_url(guide) not in html
    assert "What changed" not in html


@pytest.mark.django_db
def test_acknowledge_records_the_current_version_and_goes_home(labeler_client):
    guide, _ = make_published_guide()
    current = publish_version(guide)
    response = labeler_client.post(ack_url(guide))
    assert response.status_code == 302
    assert response["Location"] == reverse("labeler:home")
    ack = GuideAcknowledgement.objects.get(labeler=labeler_client.labeler)
    assert ack.version == current
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert texts == [f"You acknowledged version 1.1 of “{guide.name}”."]


@pytest.mark.django_db
def test_acknowledging_twice_is_harmless(labeler_client):
    guide, _ = make_published_guide()
    first = labeler_client.post(ack_url(guide))
    second = labeler_client.post(ack_url(guide))
    assert first.status_code == second.status_code == 302
    assert GuideAcknowledgement.objects.filter(labeler=labeler_client.labeler).count() == 1


@pytest.mark.django_db
def test_acknowledge_needs_a_post(labeler_client):
    guide, _ = make_published_guide()
    assert labeler_client.get(ack_url(guide)).status_code == 405
    assert not GuideAcknowledgement.objects.exists()


@pytest.mark.django_db
def test_a_guide_the_labeler_cannot_see_is_404(labeler_client):
    draft_only = GuideFactory()
    make_draft(draft_only)
    for url in (guide_url(draft_only), "/labeler/guides/999999/"):
        assert labeler_client.get(url).status_code == 404
    assert labeler_client.post(ack_url(draft_only)).status_code == 404
    assert not GuideAcknowledgement.objects.exists()


@pytest.mark.django_db
def test_signed_out_visitors_are_sent_to_sign_in(client):
    guide, _ = make_published_guide()
    response = client.get(guide_url(guide))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("labeler:login"))


@pytest.mark.django_db
def test_guide_page_query_count(client, internal_labeler, django_assert_max_num_queries):
    guide, _ = make_published_guide()
    acknowledge(internal_labeler, guide)
    publish_version(guide, change_summary="More examples.")
    client.force_login(internal_labeler.user)
    with django_assert_max_num_queries(10):
        response = client.get(guide_url(guide))
    assert response.status_code == 200
