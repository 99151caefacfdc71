"""The demo's drawn photos (demo.seed.images): committed as they are drawn, one for every image
URL the demo's data names, served as static files, and silent about what they show."""

from __future__ import annotations

import re
import urllib.request
from io import StringIO
from xml.etree import ElementTree

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command

from assignments.models import Task
from demo.seed.boxes import BOX_IMAGE_URL, box_prelabel
from demo.seed.images import (
    COMBINED,
    DRAWINGS,
    GOLD_DRAWINGS,
    HARDWARE_CLASSES,
    HARDWARE_PHOTOS,
    HEIGHT,
    STATIC_ROOT,
    WIDTH,
    all_images,
    hardware_boxes,
    north_truth,
    stale_images,
)
from demo.seed.qualification import GOLD_CLASSES, GOLD_IMAGE_URL, GOLD_ITEMS
from demo.seed.survey import CONTROL_PHOTOS, F5_PHOTOS, NORTH_IMAGE_URL, TASK_PHOTOS, f5_truth
from demo.seed.work import demo_truth
from qc.answers import BOXES, validate_answer
from qc.models import GoldItem, GuideVersion

SVG = "{http://www.w3.org/2000/svg}"


def test_the_committed_images_are_what_the_generator_draws():
    assert stale_images() == []
    # Drawing twice gives the same bytes.
    assert all_images() == all_images()
    out = StringIO()
    call_command("demo_images", check=True, stdout=out)
    assert "current" in out.getvalue()


def test_a_stale_image_is_found(tmp_path):
    images = all_images()
    for rel, text in images.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert stale_images(tmp_path) == []
    first = sorted(images)[0]
    (tmp_path / first).write_text(images[first].replace("#", "#0", 1))
    (tmp_path / "north" / "9999.svg").write_text("<svg/>")
    assert stale_images(tmp_path) == [first, "north/9999.svg"]


def test_every_image_is_an_svg_of_its_natural_size_that_names_nothing():
    for rel, text in all_images().items():
        root = ElementTree.fromstring(text)  # noqa: S314 — our own files, just drawn
        assert root.tag == f"{SVG}svg", rel
        assert (root.get("width"), root.get("height")) == (str(WIDTH), str(HEIGHT)), rel
        # Nothing a labeler could read the answer from in the source: no text, no comments,
        # no classes, and only the two gradients' ids.
        assert {el.get("id") for el in root.iter() if el.get("id")} == {"sky", "ground"}, rel
        assert not re.search(r"<!--|<title|<desc|<text|class=|data-", text), rel


def test_each_quiz_case_is_drawn_as_a_picture_its_answer_allows():
    assert len(GOLD_DRAWINGS) == len(GOLD_ITEMS)
    for drawing, (answers, _difficulty, material, _version, _why) in zip(
        GOLD_DRAWINGS, GOLD_ITEMS, strict=True
    ):
        if len(answers) == 2:
            assert set(COMBINED[drawing]) == set(answers)
        else:
            assert material in DRAWINGS[answers[0]][drawing], (answers, drawing, material)
    # A control photo shows its gold case; a real photo the project's truth.
    for index, photo in enumerate(CONTROL_PHOTOS):
        assert north_truth(photo) == tuple(GOLD_ITEMS[index][0])
    for n, photo in enumerate(TASK_PHOTOS, start=1):
        assert north_truth(photo) == (demo_truth(n, list(GOLD_CLASSES)),)
    # Flight F5 (the drifting third batch) shows its own truth: mostly woodpecker holes.
    f5 = [north_truth(photo) for photo in F5_PHOTOS]
    assert f5 == [(f5_truth(photo),) for photo in F5_PHOTOS]
    assert f5.count(("woodpecker",)) == 32 and {c for (c,) in f5} <= set(GOLD_CLASSES)


def test_the_hardware_boxes_lie_on_the_photo_and_the_prelabels_are_valid_answers():
    seen = set()
    for n in range(1, HARDWARE_PHOTOS + 1):
        boxes = hardware_boxes(n)
        labels = [b["label"] for b in boxes]
        assert labels.count("crossarm") >= 1 and labels.count("insulator") >= 2
        seen |= set(labels)
        for box in boxes:
            assert box["x"] >= 0 and box["x"] + box["w"] <= WIDTH
            assert box["y"] >= 0 and box["y"] + box["h"] <= HEIGHT
        validate_answer(BOXES, list(HARDWARE_CLASSES), boxes)
        validate_answer(BOXES, list(HARDWARE_CLASSES), box_prelabel(n))
    assert seen == set(HARDWARE_CLASSES)


def _static_path(url: str) -> str:
    assert url.startswith("/static/demo/"), url
    return url.removeprefix("/static/")


@pytest.mark.django_db
def test_every_image_the_demo_names_is_a_static_file(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("seed_demo", force=True, stdout=StringIO())
    urls = set(Task.objects.values_list("payload__image_url", flat=True))
    urls |= set(GoldItem.objects.values_list("payload__image_url", flat=True))
    for definitions in GuideVersion.objects.values_list("label_definitions", flat=True):
        urls |= {url for d in definitions for url in d.get("examples", [])}
    assert len(urls) > 200
    for url in urls:
        path = _static_path(url)
        found = finders.find(path)
        assert found, url
        assert str(STATIC_ROOT) in found
    # And nothing is drawn that the demo does not show.
    assert {_static_path(u).removeprefix("demo/") for u in urls} == set(all_images())


def test_the_live_server_serves_them_as_svg(live_server):
    for url in (
        NORTH_IMAGE_URL.format(photo=CONTROL_PHOTOS[0]),
        GOLD_IMAGE_URL.format(n=1),
        BOX_IMAGE_URL.format(n=HARDWARE_PHOTOS),
    ):
        with urllib.request.urlopen(live_server.url + url) as response:  # noqa: S310 — local
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("image/svg+xml")
            assert (
                response.read()
                == (STATIC_ROOT / _static_path(url).removeprefix("demo/")).read_bytes()
            )
