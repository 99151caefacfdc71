"""The hot path's fixed statements run as server-side prepared statements on PostgreSQL: after
psycopg's threshold of uses on a connection, PostgreSQL holds the plan and no longer parses and
plans them per call (config.rawsql.prepared_cursor)."""

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from config.authentication import token_with_user

pytestmark = pytest.mark.django_db


def _prepared(fragment: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            [f"%{fragment}%"],
        )
        return cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements: PostgreSQL")
def test_the_token_statement_is_prepared_after_a_few_uses(vendor_labeler):
    key = Token.objects.create(user=vendor_labeler.user).key
    table = Token._meta.db_table
    for _ in range(8):
        assert token_with_user(key).user.pk == vendor_labeler.user.pk
    assert _prepared(f"FROM {table} t") == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements: PostgreSQL")
def test_turned_off_nothing_is_prepared(vendor_labeler, settings):
    settings.DB_PREPARED_STATEMENTS = False
    key = Token.objects.create(user=vendor_labeler.user).key
    for _ in range(8):
        assert token_with_user(key).user.pk == vendor_labeler.user.pk
    assert _prepared(f"FROM {Token._meta.db_table} t") == 0
