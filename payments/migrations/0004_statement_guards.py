"""The guard on lines and paid items (0002_ledger_guards) checks each statement once on
PostgreSQL, instead of each row.

A calculation writes a period's paid items with one ``INSERT … SELECT`` per project, up to a
million rows; a row trigger ran a function and a lookup of the period for every one of them.
These statement triggers see the rows the statement wrote (its transition tables) and refuse
the whole statement when any row belongs to an approved or closed period: the same rule, for
the same paths (the admin, the API, a service, raw SQL from the app's role), checked once.
They run AFTER the statement, which still rolls it back whole. SQLite keeps its row triggers.
"""

from django.db import migrations

FROZEN = "('approved', 'closed')"
REFUSED = "payments: the ledger of an approved or closed pay period cannot change"
TABLES = ("payments_ledgerline", "payments_paiditem")

ROW_GUARD = f"""
CREATE FUNCTION payments_ledger_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND EXISTS (
        SELECT 1 FROM payments_payperiod WHERE id = OLD.period_id AND status IN {FROZEN}
    ) THEN
        RAISE EXCEPTION '{REFUSED}' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP <> 'DELETE' AND EXISTS (
        SELECT 1 FROM payments_payperiod WHERE id = NEW.period_id AND status IN {FROZEN}
    ) THEN
        RAISE EXCEPTION '{REFUSED}' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END $$;
"""

# Each transition table is read only inside the branch of the events that have it: PL/pgSQL
# plans a statement when it first runs, so an INSERT never plans the query on old_rows.
STATEMENT_GUARD = f"""
CREATE FUNCTION payments_ledger_statement_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        IF EXISTS (
            SELECT 1 FROM old_rows r JOIN payments_payperiod p ON p.id = r.period_id
            WHERE p.status IN {FROZEN}
        ) THEN
            RAISE EXCEPTION '{REFUSED}' USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        IF EXISTS (
            SELECT 1 FROM new_rows r JOIN payments_payperiod p ON p.id = r.period_id
            WHERE p.status IN {FROZEN}
        ) THEN
            RAISE EXCEPTION '{REFUSED}' USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    RETURN NULL;
END $$;
"""

EVENTS = {
    "insert": "INSERT ON {table} REFERENCING NEW TABLE AS new_rows",
    "update": "UPDATE ON {table} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "DELETE ON {table} REFERENCING OLD TABLE AS old_rows",
}


def _statement_triggers() -> str:
    return "\n".join(
        f"CREATE TRIGGER {table}_guard_{event} AFTER {clause.format(table=table)} "
        "FOR EACH STATEMENT EXECUTE FUNCTION payments_ledger_statement_guard();"
        for table in TABLES
        for event, clause in EVENTS.items()
    )


def _drop_statement_triggers() -> str:
    return "\n".join(
        f"DROP TRIGGER {table}_guard_{event} ON {table};" for table in TABLES for event in EVENTS
    )


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "DROP TRIGGER payments_paiditem_guard ON payments_paiditem;"
        "DROP TRIGGER payments_ledgerline_guard ON payments_ledgerline;"
        "DROP FUNCTION payments_ledger_guard();"
    )
    schema_editor.execute(STATEMENT_GUARD)
    schema_editor.execute(_statement_triggers())


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(_drop_statement_triggers())
    schema_editor.execute("DROP FUNCTION payments_ledger_statement_guard();")
    schema_editor.execute(ROW_GUARD)
    schema_editor.execute(
        "CREATE TRIGGER payments_ledgerline_guard BEFORE INSERT OR UPDATE OR DELETE "
        "ON payments_ledgerline FOR EACH ROW EXECUTE FUNCTION payments_ledger_guard();"
        "CREATE TRIGGER payments_paiditem_guard BEFORE INSERT OR UPDATE OR DELETE "
        "ON payments_paiditem FOR EACH ROW EXECUTE FUNCTION payments_ledger_guard();"
    )


class Migration(migrations.Migration):
    dependencies = [("payments", "0003_item_indexes")]

    operations = [migrations.RunPython(forward, backward)]
