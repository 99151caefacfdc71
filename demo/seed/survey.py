"""The northern survey: the drone photos the demo project's tasks and its control set come from.

A hundred and sixty photos of the project's own survey (the northern flights): 120 to label and
40 control photos with the same forty cases as the quiz set, answered by senior labelers. A
control task carries its gold item's payload as it is, so control payloads are made exactly as
the project's real tasks are (``north_payload``: same host and path, a four-digit photo number,
the same two metadata keys of the same types), and their photo numbers are drawn from the
survey's, interleaved with the real tasks'.

The photos are the demo's own drawings (``demo.seed.images``), served as static files at
``/static/demo/north/`` — a path on the server itself, so the labeler pages work offline.
"""

from __future__ import annotations

import random

SURVEY_PHOTOS = 160  # the northern survey: 120 photos to label and 40 control photos
CONTROL_PHOTOS = tuple(
    sorted(random.Random("north-survey/control").sample(range(1, SURVEY_PHOTOS + 1), 40))
)
TASK_PHOTOS = tuple(p for p in range(1, SURVEY_PHOTOS + 1) if p not in CONTROL_PHOTOS)

# Flight F5, flown after the survey along a wooded coastal line: forty more photos, imported as
# the demo project's third batch (demo.seed.operations). Most of its poles are woodpecker-damaged,
# so the batch's labels drift from the project's baseline and the drift check records it.
F5_PHOTOS = tuple(range(SURVEY_PHOTOS + 1, SURVEY_PHOTOS + 41))
_F5_OTHERS = ("ok", "crack", "rust", "missing-crossarm")


def f5_truth(photo: int) -> str:
    """What flight F5's photo ``photo`` shows: a woodpecker's holes, but for one photo in five
    (the other classes in turn)."""
    n = photo - SURVEY_PHOTOS  # 1..40
    return _F5_OTHERS[(n // 5) % len(_F5_OTHERS)] if n % 5 == 0 else "woodpecker"


# Where the demo's drawn photos are served (demo/static/demo/ through staticfiles). A relative
# URL: the labeler pages and the images are on the same server.
DEMO_IMAGES = "/static/demo"
NORTH_IMAGE_URL = DEMO_IMAGES + "/north/{photo:04d}.svg"


def north_external_id(photo: int) -> str:
    return f"NORTH-{photo:04d}"


def north_payload(photo: int) -> dict[str, object]:
    """Photo ``photo`` of the northern survey as a task shows it: real and control alike."""
    return {
        "image_url": NORTH_IMAGE_URL.format(photo=photo),
        "metadata": {"pole_id": f"N-{7000 + photo}", "flight": f"F{1 + (photo - 1) // 40}"},
    }
