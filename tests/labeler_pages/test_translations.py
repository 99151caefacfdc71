"""The labeler pages in European Portuguese: the catalogue (locale/pt_PT/LC_MESSAGES) holds a
translation of every string the project marks, the compiled .mo is the .po as committed, and
the pages speak Portuguese to a browser or a profile that asks for it (a choice made on the
pages winning over both).

A string marked but not translated fails ``test_every_marked_string_is_translated`` with its
text: run ``make messages``, translate the new entries of django.po, and run it again (it
compiles the .mo too).
"""

from __future__ import annotations

import gettext
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.urls import reverse

from assignments.models import Assignment, Task
from tests.assignments.factories import make_project
from tests.labeler_pages.conftest import axe_violations, needs_chromium, screenshot, sign_in
from tests.labeler_pages.home_factories import home_world, make_guide, make_quiz
from workforce import services as workforce_services

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "locale" / "pt_PT" / "LC_MESSAGES"
PO = CATALOGUE / "django.po"
MO = CATALOGUE / "django.mo"
# What `make messages` leaves out (the Makefile's MESSAGES_IGNORE): nothing a labeler reads.
NOT_COLLECTED = {"tests", "bench", "demo"}
# %(name)s and %% (Python formats) and {name} (the box tool's JavaScript patterns).
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%%|\{[a-z_]+\}")


def _committed() -> polib.POFile:
    return polib.pofile(str(PO))


def _entries(po: polib.POFile) -> list[polib.POEntry]:
    return [e for e in po if not e.obsolete]


# -- the catalogue --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def collected(tmp_path_factory) -> polib.POFile:
    """What Django's makemessages collects now from the project's apps (as `make messages`
    does), run in a copy of their sources so the committed catalogue is left alone."""
    copy = tmp_path_factory.mktemp("messages")
    apps = [
        path.name
        for path in ROOT.iterdir()
        if (path / "__init__.py").exists() and path.name not in NOT_COLLECTED
    ]
    assert {"config", "labeler_pages", "workforce", "qc", "assignments"} <= set(apps)
    for name in apps:
        shutil.copytree(
            ROOT / name,
            copy / name,
            # An app's own locale/ would take its strings away from the one catalogue.
            ignore=shutil.ignore_patterns("__pycache__", "locale", "*.pyc", "static"),
        )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONPATH": os.pathsep.join([str(copy), os.environ.get("PYTHONPATH", "")]),
        "SECRET_KEY": "messages",
    }
    env.pop("DATABASE_URL", None)  # makemessages reads no database: the embedded default
    result = subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "pt_PT", "--no-obsolete"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return polib.pofile(str(copy / "locale" / "pt_PT" / "LC_MESSAGES" / "django.po"))


def test_makemessages_collects_the_labeler_pages(collected):
    """The collection itself works (else the next test would pass on nothing)."""
    msgids = {e.msgid for e in collected}
    assert "Guides to acknowledge" in msgids  # a template
    assert "%(n)s task waits for you." in msgids  # a view's ngettext
    assert "Expected a list of boxes." in msgids  # a service's message
    assert len(msgids) > 300


def test_every_marked_string_is_translated(collected):
    committed = {(e.msgctxt, e.msgid): e for e in _entries(_committed())}
    problems = []
    for entry in collected:
        found = committed.get((entry.msgctxt, entry.msgid))
        if found is None:
            problems.append(f"not in django.po: {entry.msgid!r}")
        elif "fuzzy" in found.flags:
            problems.append(f"fuzzy: {entry.msgid!r}")
        elif entry.msgid_plural and (
            found.msgid_plural != entry.msgid_plural
            or sorted(found.msgstr_plural) != [0, 1]
            or not all(found.msgstr_plural.values())
        ):
            problems.append(f"plural forms missing: {entry.msgid!r}")
        elif not entry.msgid_plural and not found.msgstr:
            problems.append(f"not translated: {entry.msgid!r}")
    assert not problems, "Run `make messages` and translate:\n" + "\n".join(problems)


def test_the_catalogue_is_whole_and_pt_pt():
    po = _committed()
    assert not po.metadata_is_fuzzy
    assert po.metadata["Language"] == "pt_PT"
    assert po.metadata["Plural-Forms"] == "nplurals=2; plural=(n != 1);"
    assert po.percent_translated() == 100
    assert not po.fuzzy_entries() and not po.obsolete_entries()


@pytest.mark.parametrize("entry", _entries(_committed()), ids=lambda e: e.msgid[:40])
def test_translations_keep_their_placeholders(entry):
    """The same %(name)s, %% and {name} as the English (the singular form may say "one"
    instead of its number, as English "your only attempt" does)."""
    wanted = sorted(PLACEHOLDER.findall(entry.msgid_plural or entry.msgid))
    if entry.msgid_plural:
        assert sorted(PLACEHOLDER.findall(entry.msgstr_plural[1])) == wanted
        singular = set(PLACEHOLDER.findall(entry.msgstr_plural[0]))
        assert singular <= set(wanted), entry.msgstr_plural[0]
    else:
        assert sorted(PLACEHOLDER.findall(entry.msgstr)) == wanted, entry.msgstr


def test_the_mo_is_compiled_from_the_po():
    with MO.open("rb") as handle:
        mo = gettext.GNUTranslations(handle)
    entries = _entries(_committed())
    for entry in entries:
        if entry.msgid_plural:
            assert mo.ngettext(entry.msgid, entry.msgid_plural, 1) == entry.msgstr_plural[0]
            assert mo.ngettext(entry.msgid, entry.msgid_plural, 2) == entry.msgstr_plural[1]
        else:
            assert mo.gettext(entry.msgid) == entry.msgstr, entry.msgid
    # Nothing more in the .mo than in the .po (a stale string left compiled).
    keys = {k[0] if isinstance(k, tuple) else k for k in mo._catalog}
    assert keys - {""} == {e.msgid for e in entries}
    assert mo.info()["plural-forms"] == "nplurals=2; plural=(n != 1);"


# -- the pages ------------------------------------------------------------------------------------

PT = {"accept-language": "pt-PT,pt;q=0.9,en;q=0.5"}
BROWSER_PASSWORD = "a-long-test-password"


def _portuguese(response, *texts: str) -> str:
    assert response.status_code == 200, response.status_code
    assert response["Content-Language"] == "pt-pt"
    html = re.sub(r"\s+", " ", response.content.decode())
    assert '<html lang="pt-pt"' in html
    for text in texts:
        assert text in html, text
    return html


@pytest.mark.django_db
def test_the_sign_in_page_speaks_portuguese(client):
    html = _portuguese(client.get("/labeler/login/", headers=PT), "Iniciar sessão")
    assert "Esqueceu-se da palavra-passe?" in html
    assert "Palavra-passe" in html  # Django's own form field, from Django's pt catalogue


@pytest.mark.django_db
def test_the_lockout_page_speaks_portuguese_on_the_labeler_sign_in(client, settings):
    settings.AXES_FAILURE_LIMIT = 2
    form = {"username": "nobody", "password": "wrong"}
    for _ in range(2):
        response = client.post("/labeler/login/", form, headers=PT)
    assert response.status_code == 429
    html = response.content.decode()
    assert '<html lang="pt-pt">' in html and "<h1>Início de sessão bloqueado</h1>" in html
    assert re.search(r"Demasiadas tentativas .* daqui a \d+ minutos?\.", html)
    # The admin's is the same page, in English.
    admin = client.post("/admin/login/", form, headers=PT)
    assert admin.status_code == 429 and "Too many failed login attempts" in admin.content.decode()


@pytest.mark.django_db
def test_the_labeler_pages_speak_portuguese(labeler_client):
    labeler = labeler_client.labeler
    guide, _version = make_guide("poles", "Pole basics")
    quiz = make_quiz("warm-up", title="Warm-up")
    project = make_project(tasks=2, overlap=1, name="Poles")

    html = _portuguese(labeler_client.get("/labeler/", headers=PT), f"Olá, {labeler.public_code}")
    for heading in (
        "Guias por confirmar",
        "Questionários e testes de qualificação",
        "Projetos",
        "A sua qualidade",
        "Ganhos",
    ):
        assert re.search(rf"<h2[^>]*>{heading}</h2>", html), heading
    assert "2 tarefas à sua espera." in html  # ngettext, plural

    _portuguese(
        labeler_client.get(reverse("labeler:guide", args=[guide.pk]), headers=PT),
        "<h1>Pole basics</h1>",
        "Versão",
        "confirmar a leitura",
    )
    _portuguese(
        labeler_client.get(reverse("labeler:quiz", args=[quiz.pk]), headers=PT),
        "Questionário de treino",
        "Como funciona",
        "Começar o questionário",
    )
    _portuguese(
        labeler_client.get(reverse("labeler:project-work", args=[project.pk]), headers=PT),
        "Atalhos de teclado",
        "Tempo restante nesta tarefa:",
        "Escolha uma etiqueta",
    )
    assert Assignment.objects.filter(labeler=labeler).exists()
    _portuguese(
        labeler_client.get(reverse("labeler:quality"), headers=PT),
        "<h1>A minha qualidade</h1>",
        "Quadro de desempenho",
        "Últimos 30 dias",
    )


@pytest.mark.django_db
def test_a_service_message_is_portuguese_on_the_pages_and_english_in_the_api(labeler_client):
    project = make_project(tasks=2, overlap=1)
    labeler_client.get(reverse("labeler:project-work", args=[project.pk]), headers=PT)
    assignment = Assignment.objects.get(labeler=labeler_client.labeler)

    # Outside /labeler/ no language is activated: the API answers in English whatever the
    # browser asks for.
    api = labeler_client.post(
        f"/api/v1/assignments/{assignment.pk}/submit/",
        {"answer": "no-such-label"},
        content_type="application/json",
        headers=PT,
    )
    assert api.status_code == 400
    assert api.json()["fields"]["answer"] == ["'no-such-label' is not one of the labels."]
    assert "Content-Language" not in api

    page = labeler_client.post(
        reverse("labeler:assignment-submit", args=[assignment.pk]),
        {"answer": "no-such-label"},
        headers=PT,
    )
    assert page.status_code == 302
    assert [str(m) for m in get_messages(page.wsgi_request)] == [
        "A sua resposta não foi guardada: 'no-such-label' não é uma das etiquetas."
    ]
    english = labeler_client.get("/labeler/", headers={"accept-language": "en"})
    assert english["Content-Language"] == "en"
    assert "Guides to acknowledge" in english.content.decode()


@pytest.mark.django_db
def test_a_profile_in_portuguese_gets_portuguese_without_the_header(client, internal_labeler):
    workforce_services.labeler_update(
        actor=None, labeler=internal_labeler, data={"languages": ["pt-PT"]}
    )
    client.force_login(internal_labeler.user)
    _portuguese(client.get("/labeler/"), "Guias por confirmar")


@pytest.mark.django_db
def test_the_language_chosen_on_the_pages_wins_over_the_profile(client, internal_labeler):
    workforce_services.labeler_update(
        actor=None, labeler=internal_labeler, data={"languages": ["pt-PT"]}
    )
    client.force_login(internal_labeler.user)
    client.post(reverse("set_language"), {"language": "en", "next": "/labeler/"})
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"

    response = client.get("/labeler/", headers=PT)
    assert response["Content-Language"] == "en"
    assert "Guides to acknowledge" in response.content.decode()


# -- in a browser ---------------------------------------------------------------------------------

# Elements wider than the screen or text wider than its box (Portuguese runs ~20% longer than
# English); tables scroll in their own region on purpose, hidden helpers are off-screen on purpose.
OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  const found = [];
  for (const el of document.querySelectorAll("body *")) {
    if (el.closest(".table-scroll, .visually-hidden, .skip-link, template, script")) continue;
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height) continue;
    const text = (el.textContent || "").trim().replace(/\\s+/g, " ").slice(0, 50);
    if (box.right > width + 1 || box.left < -1) found.push(`${el.tagName} wider: ${text}`);
    else if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === "visible")
      found.push(`${el.tagName} text overflows: ${text}`);
  }
  return found;
}"""


@needs_chromium
@pytest.mark.django_db(transaction=True)
def test_portuguese_at_phone_width_fits_and_is_photographed(phone, internal_labeler):
    internal_labeler.user.set_password(BROWSER_PASSWORD)
    internal_labeler.user.save()
    home_world(internal_labeler)
    # A project of this test's own, with an image the live server has (a static example).
    postes = make_project(
        tasks=0, slug="postes", name="Estado dos postes", overlap=1, priority=20,
        classes=["bom", "fissura", "ferrugem"],
    )  # fmt: skip
    Task.objects.bulk_create(
        Task(
            project=postes,
            payload={"image_url": f"/static/labeler/examples/pole-{n}.svg"},
            target=1,
        )
        for n in (1, 2)
    )
    page = phone
    sign_in(page, internal_labeler.user.username, BROWSER_PASSWORD)

    # The language chooser in the header: picking a language reloads the page in it.
    with page.expect_navigation():
        page.get_by_label("Language").select_option("pt-pt")
    assert page.locator("html").get_attribute("lang") == "pt-pt"
    assert page.get_by_role("heading", name="Guias por confirmar").is_visible()
    assert page.get_by_role("heading", name="Questionários e testes de qualificação").is_visible()
    assert page.evaluate(OVERFLOWING) == []
    assert axe_violations(page) == []
    screenshot(page, "home-pt-phone")

    page.goto(reverse("labeler:project-work", args=[postes.pk]))
    assert page.get_by_role("group", name="Escolha uma etiqueta").is_visible()
    assert page.get_by_role("heading", name="Atalhos de teclado").is_visible()
    assert page.evaluate(OVERFLOWING) == []
    assert axe_violations(page) == []
    screenshot(page, "label-choice-pt-phone")
