"""Helpers the apps' services share.

``model_update`` is the one way a service writes a list of fields onto a row it has loaded
(usually under its row lock): the service checks its own rules first, the helper sets, optionally
runs the model's validation, and saves only what was named. ``save_unique`` saves a row whose
unique value a concurrent write may take first; ``with_defaults`` completes a create service's
keyword arguments with the model's defaults.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils.translation import gettext

M = TypeVar("M", bound=models.Model)

UNCHANGEABLE = "This field cannot be changed."


def model_update(
    *,
    instance: M,
    fields: Iterable[str],
    data: Mapping[str, Any],
    full_clean: bool = True,
    clean_exclude: Iterable[str] = (),
) -> tuple[M, list[str]]:
    """Set the items of ``data`` on ``instance`` and save only them; returns ``(instance,
    changed)``.

    ``fields`` are the names the caller allows: a key of ``data`` outside them is a
    ``ValidationError`` naming each such key (``UNCHANGEABLE``), before anything is set.
    Concrete fields are set as given (a relation takes the related instance or None); with
    ``full_clean`` the instance is then validated by ``Model.full_clean`` (minus
    ``clean_exclude``), whose ``ValidationError`` leaves the row unsaved. When ``data`` names a
    concrete field the row is saved in one ``UPDATE`` of those fields and of the model's
    ``auto_now`` fields (``updated_at``); otherwise nothing is saved. Many-to-many fields are
    ``set()`` after the save. ``changed`` lists, in ``data``'s order, the concrete fields whose
    value differs from before and every many-to-many field given (``set()`` writes only the
    difference; comparing here would cost a query).

    No transaction of its own: the caller's (which holds the row lock) covers the save and the
    many-to-many writes. Django's signals and ``save()`` overrides run as for any save.
    """
    allowed = frozenset(fields)
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError({name: [UNCHANGEABLE] for name in unknown})
    meta = instance._meta
    concrete: list[str] = []
    many: list[tuple[str, Any]] = []
    changed: list[str] = []
    for name, value in data.items():
        field = meta.get_field(name)
        if field.many_to_many:
            many.append((name, value))
            changed.append(name)
            continue
        if getattr(instance, field.attname) != _raw(field, value):
            changed.append(name)
        setattr(instance, name, value)
        concrete.append(name)
    if full_clean:
        instance.full_clean(exclude=list(clean_exclude) or None)
    if concrete:
        auto_now = [
            f.name
            for f in meta.concrete_fields
            if getattr(f, "auto_now", False) and f.name not in concrete
        ]
        instance.save(update_fields=[*concrete, *auto_now])
    for name, value in many:
        getattr(instance, name).set(value)
    return instance, changed


def save_unique(instance: models.Model, *, field: str, message: str, **save_kwargs: Any) -> None:
    """Save ``instance`` (``save_kwargs`` as ``Model.save`` takes them) in a savepoint; an
    ``IntegrityError`` — a unique value taken by a concurrent write between the caller's check
    and this save — becomes a ``ValidationError`` of ``message`` on ``field``, the enclosing
    transaction still usable."""
    try:
        with transaction.atomic():
            instance.save(**save_kwargs)
    except IntegrityError:
        raise ValidationError({field: [message]}) from None


def with_defaults(
    model: type[models.Model], fields: Iterable[str], given: Mapping[str, Any]
) -> dict[str, Any]:
    """The values of ``fields`` for a new row of ``model``: as in ``given``, else the model
    field's default (a many-to-many field: none). For a create service whose keyword arguments
    are a model's settings."""
    values: dict[str, Any] = {}
    for name in fields:
        if name in given:
            values[name] = given[name]
        else:
            field = model._meta.get_field(name)
            values[name] = () if field.many_to_many else field.get_default()
    return values


def _raw(field: models.Field, value: Any) -> Any:
    """What ``value`` stores in the field's column attribute (a related row's key)."""
    if field.is_relation and isinstance(value, models.Model):
        return value.pk
    return value


def required_text(
    value: str | None, *, field: str, missing: str, max_chars: int | None = None
) -> str:
    """``value`` without its surrounding white space; a ValidationError on ``field`` when that
    leaves nothing (``missing`` says what to write) or, with ``max_chars``, more than that."""
    text = (value or "").strip()
    if not text:
        raise ValidationError({field: [missing]})
    if max_chars is not None and len(text) > max_chars:
        raise ValidationError({field: [gettext("At most %(n)s characters.") % {"n": max_chars}]})
    return text
