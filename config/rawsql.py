"""Model instances from hand-written SQL on the hot path.

A few statements (the hot path's: the next-task gate, the claim, the lease, the submit's lock;
``assignments/sql.py``) are written out as fixed SQL because composing the equivalent querysets
cost more CPU than running them. ``RowReader`` turns their rows back into model instances
exactly as the ORM would: the backend's and each field's converters are looked up once per
reader, not per row (JSON decoded, datetimes made aware). ``fields`` may be a subset: the
instance then defers the rest, as ``QuerySet.only`` does.

``prepared_cursor`` runs them as server-side prepared statements on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property

from django.conf import settings
from django.db import connection
from django.db.models import Field, Model


class RowReader:
    """Reads concrete fields of ``model`` (``fields``, or all), in the model's order, from a
    slice of a row."""

    def __init__(self, model: type[Model], fields: Sequence[Field] | None = None):
        self.model = model
        concrete = list(model._meta.concrete_fields)
        # In the model's order whatever the caller's: Model.from_db takes a subset's values in
        # that order (and the select list is built from this one).
        self.fields = sorted(fields, key=concrete.index) if fields else concrete
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


@contextmanager
def prepared_cursor() -> Iterator:
    """A cursor for the hot path's fixed statements. On PostgreSQL (unless
    ``DB_PREPARED_STATEMENTS`` is off) it binds parameters on the server, so psycopg prepares a
    statement on a connection once it has run there ``prepare_threshold`` times (5) and
    PostgreSQL no longer parses and plans it per call; with persistent connections
    (``CONN_MAX_AGE``) that is once per connection. Django's own cursors bind on the client
    (the ORM's SQL is not written for server-side binding), so only statements written for it
    go through here: named ``%(name)s`` parameters, in expressions of known type.

    The cursor is Django's wrapper around it: the same health check, error translation and
    query logging (tests count these statements like any other). Elsewhere it is
    ``connection.cursor()``."""
    if connection.vendor != "postgresql" or not settings.DB_PREPARED_STATEMENTS:
        with connection.cursor() as cursor:
            yield cursor
        return
    import psycopg

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    raw = psycopg.Cursor(connection.connection)
    cursor = (
        connection.make_debug_cursor(raw)
        if connection.queries_logged
        else connection.make_cursor(raw)
    )
    try:
        yield cursor
    finally:
        raw.close()
