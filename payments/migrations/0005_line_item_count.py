"""Each ledger line keeps how many paid items hang on it (``item_count``), so that a
recalculation compares the stored count from the lines instead of counting the items.

On SQLite, adding a column (here) and altering a column (0003_item_indexes) rebuild the table,
which drops its triggers: the guards of 0002_ledger_guards on lines and paid items are created
again at the end. Lines written before this migration count 0 items; the next recalculation of
their (open) period rewrites them.
"""

import importlib

from django.db import migrations, models

GUARDED = ("payments_ledgerline", "payments_paiditem")


def _guards():
    guards = importlib.import_module("payments.migrations.0002_ledger_guards")
    return [(name, sql) for name, sql in guards._sqlite_triggers() if name.startswith(GUARDED)]


def sqlite_guards_again(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for name, sql in _guards():
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("payments", "0004_statement_guards")]

    operations = [
        migrations.AddField(
            model_name="ledgerline",
            name="item_count",
            field=models.PositiveIntegerField(db_default=0),
        ),
        migrations.RunPython(sqlite_guards_again, migrations.RunPython.noop),
    ]
