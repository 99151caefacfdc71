"""The ledger's guards in the database, where no path of the application can pass them.

* Lines and paid items of an approved or closed period are never inserted, updated or deleted;
  a period leaves approved only for closed, a closed period never changes, and neither is
  deleted; an invoice never changes (triggers, on PostgreSQL and on SQLite).
* On PostgreSQL, rates of one scope and family never overlap in time, nor do pay periods
  (exclusion constraints, with btree_gist for the equality parts).
"""

from django.db import migrations

FROZEN = "('approved', 'closed')"
REFUSED = "payments: the ledger of an approved or closed pay period cannot change"

PG_FORWARD = f"""
CREATE EXTENSION IF NOT EXISTS btree_gist;

ALTER TABLE payments_payrate ADD CONSTRAINT payments_payrate_no_overlap EXCLUDE USING gist (
    project_id WITH =, scope WITH =, (COALESCE(vendor_id, 0)) WITH =,
    (COALESCE(labeler_id, 0)) WITH =,
    (CASE WHEN unit = 'resolved_review' THEN 'review' ELSE 'work' END) WITH =,
    tstzrange(effective_from, effective_to, '[)') WITH &&
);
ALTER TABLE payments_payperiod ADD CONSTRAINT payments_payperiod_no_overlap EXCLUDE USING gist (
    tstzrange(starts_at, ends_at, '[)') WITH &&
);

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

CREATE TRIGGER payments_ledgerline_guard BEFORE INSERT OR UPDATE OR DELETE
    ON payments_ledgerline FOR EACH ROW EXECUTE FUNCTION payments_ledger_guard();
CREATE TRIGGER payments_paiditem_guard BEFORE INSERT OR UPDATE OR DELETE
    ON payments_paiditem FOR EACH ROW EXECUTE FUNCTION payments_ledger_guard();

CREATE FUNCTION payments_period_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'closed'
       OR (OLD.status = 'approved' AND TG_OP = 'DELETE')
       OR (OLD.status = 'approved' AND (NEW.status NOT IN {FROZEN}
           OR NEW.ledger_hash <> OLD.ledger_hash
           OR NEW.starts_at <> OLD.starts_at OR NEW.ends_at <> OLD.ends_at)) THEN
        RAISE EXCEPTION '{REFUSED}' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER payments_payperiod_guard BEFORE UPDATE OR DELETE
    ON payments_payperiod FOR EACH ROW EXECUTE FUNCTION payments_period_guard();

CREATE FUNCTION payments_invoice_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'payments: an issued invoice cannot change'
        USING ERRCODE = 'integrity_constraint_violation';
END $$;

CREATE TRIGGER payments_invoice_guard BEFORE UPDATE OR DELETE
    ON payments_invoice FOR EACH ROW EXECUTE FUNCTION payments_invoice_guard();
"""

PG_BACKWARD = """
DROP TRIGGER payments_invoice_guard ON payments_invoice;
DROP FUNCTION payments_invoice_guard();
DROP TRIGGER payments_payperiod_guard ON payments_payperiod;
DROP FUNCTION payments_period_guard();
DROP TRIGGER payments_paiditem_guard ON payments_paiditem;
DROP TRIGGER payments_ledgerline_guard ON payments_ledgerline;
DROP FUNCTION payments_ledger_guard();
ALTER TABLE payments_payperiod DROP CONSTRAINT payments_payperiod_no_overlap;
ALTER TABLE payments_payrate DROP CONSTRAINT payments_payrate_no_overlap;
"""


def _sqlite_triggers() -> list[tuple[str, str]]:
    """(name, CREATE TRIGGER …) pairs: SQLite has no trigger functions, so one per event."""
    frozen = f"(SELECT status FROM payments_payperiod WHERE id = {{row}}.period_id) IN {FROZEN}"
    triggers = []
    for table in ("payments_ledgerline", "payments_paiditem"):
        for event, row in (("INSERT", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD")):
            name = f"{table}_guard_{event.lower()}"
            triggers.append(
                (
                    name,
                    f"CREATE TRIGGER {name} BEFORE {event} ON {table} "
                    f"WHEN {frozen.format(row=row)} "
                    f"BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END",
                )
            )
    period_rules = {
        "update": f"OLD.status = 'closed' OR (OLD.status = 'approved' AND ("
        f"NEW.status NOT IN {FROZEN} OR NEW.ledger_hash <> OLD.ledger_hash "
        "OR NEW.starts_at <> OLD.starts_at OR NEW.ends_at <> OLD.ends_at))",
        "delete": f"OLD.status IN {FROZEN}",
    }
    for event, when in period_rules.items():
        name = f"payments_payperiod_guard_{event}"
        triggers.append(
            (
                name,
                f"CREATE TRIGGER {name} BEFORE {event.upper()} ON payments_payperiod "
                f"WHEN {when} BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END",
            )
        )
    for event in ("UPDATE", "DELETE"):
        name = f"payments_invoice_guard_{event.lower()}"
        triggers.append(
            (
                name,
                f"CREATE TRIGGER {name} BEFORE {event} ON payments_invoice "
                "BEGIN SELECT RAISE(ABORT, 'payments: an issued invoice cannot change'); END",
            )
        )
    return triggers


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FORWARD)
    elif schema_editor.connection.vendor == "sqlite":
        for _name, sql in _sqlite_triggers():
            schema_editor.execute(sql)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD)
    elif schema_editor.connection.vendor == "sqlite":
        for name, _sql in _sqlite_triggers():
            schema_editor.execute(f"DROP TRIGGER {name}")


class Migration(migrations.Migration):
    dependencies = [("payments", "0001_ledger")]

    operations = [migrations.RunPython(forward, backward)]
