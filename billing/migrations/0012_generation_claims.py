"""Generation writes less per row: no index on the claim's report column, and no per-row
foreign-key checks on report orders (200,000 of them at commit for a 100,000-order report).

The claim's pairs of a report are found through the report's orders (the primary key's leading
column). A report's orders are written in the transaction that creates the report, and the
ORM cascades a report's deletion to them, as to its lines. Their orders stay protected by the
database: a trigger on the order table refuses to delete or renumber an order that a report
holds, and generation locks the report's orders and checks that they all exist in one
statement, as the deferred checks did one row at a time (until migration 0014, which has the
trigger wait for a generation of the order's customer instead). The trigger is PostgreSQL's:
on SQLite (one writer at a time, the embedded default) the ORM's PROTECT refuses the deletion,
and a trigger there would refuse the test runner's flush.
"""

import django.db.models.deletion
from django.db import migrations, models

ORDER_TRIGGER_SQL = {
    "postgresql": [
        """
        CREATE FUNCTION billing_order_in_report() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM billing_reportorder WHERE order_id = OLD.id) THEN
                RAISE EXCEPTION 'order % is held by a billing report', OLD.id
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            IF TG_OP = 'DELETE' THEN
                RETURN OLD;
            END IF;
            RETURN NEW;
        END
        $$
        """,
        "CREATE TRIGGER billing_order_in_report_delete BEFORE DELETE ON billing_order "
        "FOR EACH ROW EXECUTE FUNCTION billing_order_in_report()",
        "CREATE TRIGGER billing_order_in_report_update BEFORE UPDATE OF id ON billing_order "
        "FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION billing_order_in_report()",
    ],
}
DROP_ORDER_TRIGGER_SQL = {
    "postgresql": [
        "DROP TRIGGER billing_order_in_report_delete ON billing_order",
        "DROP TRIGGER billing_order_in_report_update ON billing_order",
        "DROP FUNCTION billing_order_in_report()",
    ],
}


def _run(statements):
    def run(apps, schema_editor):
        for sql in statements.get(schema_editor.connection.vendor, ()):
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0011_other_charges"),
    ]

    operations = [
        migrations.AlterField(
            model_name="billedpair",
            name="report",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="billing.billingreport",
            ),
        ),
        migrations.AlterField(
            model_name="reportorder",
            name="report",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="orders",
                to="billing.billingreport",
            ),
        ),
        migrations.AlterField(
            model_name="reportorder",
            name="order",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="billing.order",
            ),
        ),
        migrations.RunPython(_run(ORDER_TRIGGER_SQL), _run(DROP_ORDER_TRIGGER_SQL)),
    ]
