"""Statuses as free text, SKUs kept as entered (with a normalised key for uniqueness), not-closed orders.

Also drops three order indexes that others cover (the import maintains fewer per row): the
customer index (order_customer_close_idx starts with it), the LIKE index PostgreSQL adds for
unique=True (the uniqueness becomes a constraint), and the line's order index (uniq_order_line_sku).
"""

import django.db.models.deletion
from django.db import migrations, models


def fill_sku_keys(apps, schema_editor):
    # The stored SKUs were normalised on write, so each one is its own key; normalised again
    # here with the same rule as billing.pricing.normalize_sku (a migration must not import it).
    Product = apps.get_model("billing", "Product")
    products = list(Product.objects.only("pk", "sku"))
    for product in products:
        product.sku_key = product.sku.strip().upper().replace(" ", "").replace("-", "")
    Product.objects.bulk_update(products, ["sku_key"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0003_report_line_write_path"),
    ]

    operations = [
        migrations.CreateModel(
            name="ReportNotClosedOrder",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "order_id",
                    models.BigIntegerField(help_text="Order id at generation time (not a foreign key: a snapshot)."),
                ),
                ("transaction_id", models.CharField(max_length=64)),
                ("reference_number", models.CharField(blank=True, max_length=100)),
                ("status", models.CharField(blank=True, max_length=64)),
            ],
            options={
                "ordering": ["report_id", "id"],
            },
        ),
        migrations.AlterModelOptions(
            name="product",
            options={"ordering": ["customer_id", "sku_key"]},
        ),
        migrations.RemoveConstraint(
            model_name="product",
            name="uniq_product_customer_sku",
        ),
        migrations.AddField(
            model_name="billingreport",
            name="not_closed_order_count",
            field=models.PositiveIntegerField(
                default=0, help_text="The customer's orders without a close date (never billable), listed apart."
            ),
        ),
        migrations.AddField(
            model_name="product",
            name="sku_key",
            field=models.CharField(
                default="",
                editable=False,
                help_text="The SKU normalised for comparison (billing.pricing.normalize_sku): unique per customer.",
                max_length=100,
            ),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="order",
            name="status",
            field=models.CharField(blank=True, default="completed", max_length=64),
        ),
        migrations.AlterField(
            model_name="product",
            name="sku",
            field=models.CharField(help_text="As entered (shown everywhere as it is).", max_length=100),
        ),
        migrations.AlterField(
            model_name="reportorder",
            name="status",
            field=models.CharField(max_length=64),
        ),
        migrations.RunPython(fill_sku_keys, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="product",
            constraint=models.UniqueConstraint(fields=("customer", "sku_key"), name="uniq_product_customer_sku_key"),
        ),
        migrations.AddField(
            model_name="reportnotclosedorder",
            name="report",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="not_closed_orders",
                to="billing.billingreport",
            ),
        ),
        migrations.AlterField(
            model_name="order",
            name="customer",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="orders",
                to="billing.customer",
            ),
        ),
        migrations.AlterField(
            model_name="order",
            name="transaction_id",
            field=models.CharField(max_length=64),
        ),
        migrations.AddConstraint(
            model_name="order",
            constraint=models.UniqueConstraint(fields=("transaction_id",), name="uniq_order_transaction_id"),
        ),
        migrations.AlterField(
            model_name="orderline",
            name="order",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="lines",
                to="billing.order",
            ),
        ),
    ]
