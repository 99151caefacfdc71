"""Model instances from hand-written SQL on the hot path.

A few statements (the hot path's: the next-task gate, the claim, the lease, the submit's lock;
``assignments/sql.py``) are written out as fixed SQL because composing the equivalent querysets
cost more CPU than running them. ``RowReader`` turns their rows back into model instances
exactly as the ORM would: the backend's and each field's converters are looked up once per
reader, not per row (JSON decoded, datetimes made aware). ``fields`` may be a subset: the
instance then defers the rest, as ``QuerySet.only`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

from django.db import connection
from django.db.models import Field, Model


class RowReader:
    """Reads the concrete fields of ``model``, in ``fields`` order, from a slice of a row."""

    def __init__(self, model: type[Model], fields: Sequence[Field] | None = None):
        self.model = model
        self.fields = list(fields or model._meta.concrete_fields)
        self.attnames = [f.attname for f in self.fields]

    def columns(self, alias: str) -> str:
        """The select list for these fields, qualified by the table ``alias``."""
        return ", ".join(f"{alias}.{f.column}" for f in self.fields)

    @cached_property
    def _converters(self) -> list[tuple[list, object]]:
        table = self.model._meta.db_table
        out = []
        for field in self.fields:
            col = field.get_col(table)
            out.append(
                (connection.ops.get_db_converters(col) + field.get_db_converters(connection), col)
            )
        return out

    def read(self, values: Sequence[object]) -> Model:
        converted = []
        for value, (converters, col) in zip(values, self._converters, strict=True):
            for convert in converters:
                value = convert(value, col, connection)
            converted.append(value)
        return self.model.from_db(connection.alias, self.attnames, converted)

    def __len__(self) -> int:
        return len(self.fields)
