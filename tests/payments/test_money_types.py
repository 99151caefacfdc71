"""Money is never a float: not in the payments models, not in the payments code."""

from __future__ import annotations

import re
from pathlib import Path

from django.apps import apps
from django.db import models

PAYMENTS = Path(__file__).resolve().parents[2] / "payments"
FLOATISH = re.compile(r"\bfloat\b|FloatField|\bfloat\(")


def test_no_payments_model_field_is_a_float():
    floats = [
        f"{model.__name__}.{field.name}"
        for model in apps.get_app_config("payments").get_models()
        for field in model._meta.get_fields()
        if isinstance(field, models.FloatField)
    ]
    assert floats == []


def test_every_amount_rate_and_quantity_of_payments_is_a_decimal():
    names = re.compile(r"amount|rate|quantity|value|percent|fee|fraction|bound")
    fields = [
        (model.__name__, field)
        for model in apps.get_app_config("payments").get_models()
        for field in model._meta.concrete_fields
        if names.search(field.name) and not field.is_relation
    ]
    assert len(fields) >= 11, [f"{m}.{f.name}" for m, f in fields]
    assert [f"{m}.{f.name}" for m, f in fields if not isinstance(f, models.DecimalField)] == []


def test_the_payments_code_never_spells_float():
    offenders = [
        f"{path.relative_to(PAYMENTS.parent)}:{number}: {line.strip()}"
        for path in sorted(PAYMENTS.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if FLOATISH.search(line)
    ]
    assert offenders == []
