"""Generation writes less per row: claims without a report column, one order index on report orders.

A live report holds exactly the (order, rate-card line) pairs of its lines, so the claim's report
column repeated what the lines say; it was a third of the claim's cost. Which report holds a pair
is now found through the lines (billing.generation.claims).

A report's orders had two indexes led by an order id at a random place per row, (report, order)
unique and (order); one unique (order, report) index serves both the uniqueness and the lookups.

Going back fills the report column again from the live reports' lines.
"""

import django.db.models.deletion
from django.db import migrations, models

LIVE = ("draft", "finalized")


def holders_back(apps, schema_editor):
    """Reversing: each claimed pair's report, from the lines of the live report billing it."""
    billed_pair = apps.get_model("billing", "BilledPair")
    report_line = apps.get_model("billing", "ReportLine")
    live = apps.get_model("billing", "BillingReport").objects.filter(status__in=LIVE)
    for report_id in live.values_list("id", flat=True).iterator():
        lines = report_line.objects.filter(
            report_id=report_id, order_id=models.OuterRef("order_id"), service_id=models.OuterRef("service_id")
        )
        billed_pair.objects.filter(models.Exists(lines)).update(report_id=report_id)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0014_order_deletion_waits_for_generation"),
    ]

    operations = [
        migrations.AlterField(
            model_name="reportorder",
            name="order",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="billing.order",
            ),
        ),
        migrations.AddConstraint(
            model_name="reportorder",
            constraint=models.UniqueConstraint(fields=("order", "report"), name="uniq_order_report"),
        ),
        migrations.RemoveConstraint(
            model_name="reportorder",
            name="uniq_report_order",
        ),
        # Nullable first, so that going back can add the column before it is filled.
        migrations.AlterField(
            model_name="billedpair",
            name="report",
            field=models.ForeignKey(
                null=True,
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="billing.billingreport",
            ),
        ),
        migrations.RunPython(migrations.RunPython.noop, holders_back),
        migrations.RemoveField(
            model_name="billedpair",
            name="report",
        ),
    ]
