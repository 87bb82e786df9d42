"""Deleting, renumbering or moving an order waits for a generation of its customer, so generation
no longer locks the orders it bills: one statement fewer, and no lock left on every order row.

Generation locks its customer's row FOR UPDATE before it reads the orders. The order table's
trigger function now first locks the order's customer row FOR KEY SHARE, then checks the report
orders in a statement of its own, which in READ COMMITTED reads what was committed while the lock
waited. A deletion or renumbering during a generation of the customer therefore waits for it and
is then refused; one begun before the generation makes the generation wait for it, and the
generation then reads the orders without it. Moving an order to another customer (the admin can)
also waits, without being refused, so that its later deletion cannot slip past a generation of
the customer it left. A row the transaction has deleted itself (a customer deleted with its
orders) is not found, and not locked. PostgreSQL only, like migration 0012.
"""

from django.db import migrations

# Migration 0012's function: refuse to delete or renumber an order a report holds.
REFUSE_HELD_ORDER = """
    IF EXISTS (SELECT 1 FROM billing_reportorder WHERE order_id = OLD.id) THEN
        RAISE EXCEPTION 'order % is held by a billing report', OLD.id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
"""
WAIT_FOR_GENERATION = """
    -- Waits while a generation of the customer holds its row (FOR UPDATE), and makes a
    -- generation that starts now wait for this transaction.
    PERFORM 1 FROM billing_customer WHERE id = OLD.customer_id FOR KEY SHARE;
    IF TG_OP = 'UPDATE' THEN
        IF OLD.id = NEW.id THEN
            RETURN NEW;  -- moved to another customer: it waited, and is not refused
        END IF;
    END IF;
"""
FUNCTION = """
CREATE OR REPLACE FUNCTION billing_order_in_report() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN{body}END
$$
"""
UPDATE_TRIGGER = (
    "CREATE TRIGGER billing_order_in_report_update BEFORE UPDATE OF {columns} ON billing_order "
    "FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION billing_order_in_report()"
)
DROP_UPDATE_TRIGGER = "DROP TRIGGER billing_order_in_report_update ON billing_order"

FORWARD_SQL = {
    "postgresql": [
        FUNCTION.format(body=WAIT_FOR_GENERATION + REFUSE_HELD_ORDER),
        DROP_UPDATE_TRIGGER,
        UPDATE_TRIGGER.format(
            columns="id, customer_id",
            when="OLD.id IS DISTINCT FROM NEW.id OR OLD.customer_id IS DISTINCT FROM NEW.customer_id",
        ),
    ],
}
BACKWARD_SQL = {
    "postgresql": [
        DROP_UPDATE_TRIGGER,
        UPDATE_TRIGGER.format(columns="id", when="OLD.id IS DISTINCT FROM NEW.id"),
        FUNCTION.format(body=REFUSE_HELD_ORDER),
    ],
}


def _run(statements):
    def run(apps, schema_editor):
        for sql in statements.get(schema_editor.connection.vendor, ()):
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0013_order_line_without_database_constraint"),
    ]

    operations = [
        migrations.RunPython(_run(FORWARD_SQL), _run(BACKWARD_SQL)),
    ]
