"""Every guard trigger of the ledger is in place after all migrations, on PostgreSQL and on
SQLite (``make demo``'s database). On SQLite a migration that adds or alters a column of a
table rebuilds it and drops its triggers, so the SQLite case migrates a fresh file."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
PG_TRIGGERS = (
    {
        ("payments_ledgerline", f"payments_ledgerline_guard_{event}")
        for event in ("insert", "update", "delete")
    }
    | {
        ("payments_paiditem", f"payments_paiditem_guard_{event}")
        for event in ("insert", "update", "delete")
    }
    | {
        ("payments_payperiod", "payments_payperiod_guard"),
        ("payments_invoice", "payments_invoice_guard"),
    }
)
SQLITE_TRIGGERS = {
    (table, f"{table}_guard_{event}")
    for table in ("payments_ledgerline", "payments_paiditem")
    for event in ("insert", "update", "delete")
} | {
    (table, f"{table}_guard_{event}")
    for table in ("payments_payperiod", "payments_invoice")
    for event in ("update", "delete")
}


@pytest.mark.django_db
def test_the_test_databases_guards_are_all_installed():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = "
                "t.tgrelid WHERE NOT t.tgisinternal AND c.relname LIKE 'payments_%%'"
            )
            expected = PG_TRIGGERS
        else:
            cursor.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")
            expected = SQLITE_TRIGGERS
        assert set(cursor.fetchall()) == expected


def test_a_fresh_sqlite_database_gets_every_guard(tmp_path):
    database = tmp_path / "demo.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "SECRET_KEY": "test"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")
        assert set(rows.fetchall()) == SQLITE_TRIGGERS
