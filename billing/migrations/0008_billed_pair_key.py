"""The billed pair becomes the claim table's primary key (order_id, service_id).

The surrogate id and the separate unique index cost a sequence step and a second index entry
for every pair a report claims. A table cannot change its primary key in place on every
database, so the rows move to a new table, which then takes the old name.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0007_lifecycle"),
    ]

    operations = [
        migrations.CreateModel(
            name="BilledPairClaim",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "order_id", "service_id", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("order_id", models.BigIntegerField()),
                ("service_id", models.BigIntegerField()),
                (
                    "report",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="billing.billingreport",
                    ),
                ),
            ],
        ),
        migrations.RunSQL(
            "INSERT INTO billing_billedpairclaim (report_id, order_id, service_id) "
            "SELECT report_id, order_id, service_id FROM billing_billedpair",
            "INSERT INTO billing_billedpair (report_id, order_id, service_id) "
            "SELECT report_id, order_id, service_id FROM billing_billedpairclaim",
        ),
        migrations.DeleteModel(name="BilledPair"),
        migrations.RenameModel(old_name="BilledPairClaim", new_name="BilledPair"),
    ]
