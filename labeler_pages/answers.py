"""Reading an answer from a labeler page's form. The form carries what a person picked; the
answer's rules (labels allowed, box geometry, canonical form) are the services' own
(``qc.answers.validate_answer``), applied when the service is called.

The one field is ``answer``:

* single choice — one ``answer`` value, the label;
* multiple choice — one ``answer`` value per label ticked (none ticked is an empty list);
* boxes — one ``answer`` value, the JSON list of ``{"label", "x", "y", "w", "h"}`` boxes in the
  image's own pixels, written by the box tool (``static/labeler/boxes.js``).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from qc.answers import BOXES, MULTIPLE_CHOICE, SINGLE_CHOICE

MAX_ANSWER_CHARS = 200_000


def answer_from_form(data, *, answer_type: str) -> Any:
    """The answer posted in ``data`` (a QueryDict) for ``answer_type``. Raises ValidationError
    ``{"answer": [...]}`` when nothing usable was posted."""
    if answer_type == MULTIPLE_CHOICE:
        return [value for value in data.getlist("answer") if value]
    raw = data.get("answer", "")
    if answer_type == SINGLE_CHOICE:
        if not raw:
            raise ValidationError({"answer": [_("Choose one of the labels.")]})
        return raw
    if answer_type == BOXES:
        if len(raw) > MAX_ANSWER_CHARS:
            raise ValidationError({"answer": [_("Too many boxes.")]})
        try:
            boxes = json.loads(raw or "[]")
        except ValueError:
            raise ValidationError({"answer": [_("The boxes could not be read.")]}) from None
        return boxes
    raise ValidationError({"answer": [_("This answer type cannot be answered here.")]})
