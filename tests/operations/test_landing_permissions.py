"""Who sees what on the landing page: non-staff never reach the admin; a staff user sees only
the panels of the models they may view, and a figure is linked only to a list they may open."""

from __future__ import annotations

import pytest

from operations.permissions import PANEL_MODELS, Panel, panels_for
from tests.factories import UserFactory
from tests.operations.conftest import grant

pytestmark = pytest.mark.django_db

PANEL_IDS = {panel: f'id="lf-{panel.value}"' for panel in Panel}


def test_non_staff_are_sent_to_the_login(client, world, internal_labeler, manager_a):
    for user in (None, internal_labeler.user, manager_a):
        if user is not None:
            client.force_login(user)
        response = client.get("/admin/")
        assert response.status_code == 302
        assert response.url.startswith("/admin/login/")


def test_ops_manager_sees_every_panel(ops_admin, world):
    html = ops_admin.get("/admin/").content.decode()
    for panel, marker in PANEL_IDS.items():
        assert marker in html, panel


def test_staff_without_permissions_sees_no_panel_and_no_figure(client, world):
    user = UserFactory(username="bare-staff", is_staff=True)
    client.force_login(user)
    response = client.get("/admin/")
    assert response.status_code == 200
    html = response.content.decode()
    assert not any(marker in html for marker in PANEL_IDS.values())
    assert "Pole inspection 1" not in html
    assert "may not view any of the records" in html


def test_a_panel_follows_its_model_view_permission(client, world):
    user = UserFactory(username="reviews-only", is_staff=True)
    grant(user, "assignments.view_review")
    client.force_login(user)
    response = client.get("/admin/")
    html = response.content.decode()
    assert PANEL_IDS[Panel.BACKLOG] in html
    others = set(Panel) - {Panel.BACKLOG}
    assert not any(PANEL_IDS[p] in html for p in others)
    backlog = response.context["backlog"]
    assert backlog["total"].value == 5 and backlog["total"].url.startswith(
        "/admin/assignments/review/"
    )


def test_figures_link_only_to_lists_the_user_may_open(client, world):
    # May view projects (the panel) but not tasks or assignments (the lists behind its figures).
    user = UserFactory(username="projects-only", is_staff=True)
    grant(user, "assignments.view_project")
    client.force_login(user)
    response = client.get("/admin/")
    (busy, _stalled) = response.context["progress"]["rows"]
    assert busy["done"].value == world.done
    assert all(busy[k].url is None for k in ("total", "open", "leased", "done", "review"))
    assert busy["url"] == f"/admin/assignments/project/{world.projects[0].pk}/change/"
    assert 'class="lf-n" href=' not in response.content.decode()
    # A link the user could not follow would be a 403: none is drawn.
    assert client.get("/admin/assignments/task/").status_code == 403


def test_change_permission_counts_as_view(db):
    user = UserFactory(username="changer", is_staff=True)
    grant(user, "qc.change_golditem")
    assert panels_for(user) == {Panel.GOLD}


def test_inactive_staff_sees_nothing(db):
    user = UserFactory(username="gone", is_staff=True, is_active=False)
    grant(user, *(f"{m.split('.')[0]}.view_{m.split('.')[1]}" for m in PANEL_MODELS.values()))
    assert panels_for(user) == frozenset()
