"""Rate cards as one JSON document: export, and validated all-or-nothing import.

The format is described in docs/rate-card-format.md. `rate_card_export` writes the document;
`rate_card_import` checks the whole document first (billing/services/rate_card_document.py:
schema, decimals, enums, references, every rule and every line through the pricing engine's
validators), reports every problem at once as `ValidationFailed` with details
`{path: [messages]}`, and writes nothing unless everything is valid. Exporting, importing and
exporting again gives the same document.

Also here: `rule_check`, the engine's check of a single rule, which the admin's rule form runs.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Prefetch

from billing.errors import NotFound, ValidationFailed
from billing.models import Customer, CustomerService, PriceTier, Product, RateCardAdjustment, Rule, RuleGroup, Service
from billing.pricing import FIELD_KINDS, RuleData, RuleValidationError, normalize_sku, validate_rule
from billing.pricing.activity import AdjustmentData, validate_adjustment
from billing.pricing.charges import ACTIVITY_CHARGE_TYPES
from billing.pricing.fields import ACTIVITY_FIELD_KINDS
from billing.services.customers import customers_create_with_ids
from billing.services.rate_card_document import (
    FORMAT_VERSION,
    MAX_DEPTH,
    CustomerPlan,
    LinePlan,
    rate_card_plan,
)
from billing.services.strict_json import object_from_pairs

__all__ = [
    "FORMAT_VERSION",
    "MAX_DEPTH",
    "ImportSummary",
    "rate_card_export",
    "rate_card_import",
    "rate_card_loads",
    "rule_check",
]


@dataclass(slots=True)
class ImportSummary:
    services_created: int = 0
    services_updated: int = 0
    services_unchanged: int = 0
    customers_created: int = 0
    customers_updated: int = 0
    customers_unchanged: int = 0
    products_created: int = 0
    products_updated: int = 0
    products_unchanged: int = 0
    lines_created: int = 0
    lines_updated: int = 0
    lines_unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @property
    def changed(self) -> bool:
        """Whether the import wrote anything (False: the database already held the document)."""
        return any(value for name, value in self.as_dict().items() if not name.endswith("_unchanged"))

    def __str__(self) -> str:
        parts = []
        for label, kind in (
            ("services", "services"),
            ("customers", "customers"),
            ("products", "products"),
            ("rate-card lines", "lines"),
        ):
            created, updated, unchanged = (
                getattr(self, f"{kind}_{what}") for what in ("created", "updated", "unchanged")
            )
            parts.append(f"{label}: {created} created, {updated} updated, {unchanged} unchanged")
        return "; ".join(parts)


# --- export --------------------------------------------------------------------------------


def _decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def rate_card_export(*, customer_ids: Sequence[int] | None = None) -> dict[str, Any]:
    """The services catalogue and the rate cards of `customer_ids` (every customer when None)."""
    customers = Customer.objects.order_by("id").prefetch_related(
        Prefetch("products", queryset=Product.objects.order_by("sku_key", "id")),
        Prefetch(
            "rate_card",
            queryset=CustomerService.objects.select_related("service")
            .order_by("service__name", "id")
            .prefetch_related(
                "tiers",
                Prefetch("skus", queryset=Product.objects.order_by("sku_key", "id")),
                Prefetch(
                    "rule_groups",
                    queryset=RuleGroup.objects.order_by("id").prefetch_related(
                        Prefetch("rules", queryset=Rule.objects.order_by("id"))
                    ),
                ),
            ),
        ),
    )
    services = Service.objects.order_by("name")
    if customer_ids is not None:
        wanted = sorted(set(customer_ids))
        customers = customers.filter(pk__in=wanted)
        missing = sorted(set(wanted) - set(Customer.objects.filter(pk__in=wanted).values_list("pk", flat=True)))
        if missing:
            raise NotFound(f"No customer with id {', '.join(map(str, missing))}.")
        services = services.filter(customer_services__customer_id__in=wanted).distinct()
    return {
        "version": FORMAT_VERSION,
        "services": [{"name": s.name, "description": s.description, "charge_type": s.charge_type} for s in services],
        "customers": [_export_customer(customer) for customer in customers],
    }


def _export_customer(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.pk,
        "company_name": customer.company_name,
        "legal_business_name": customer.legal_business_name,
        "email": customer.email,
        "phone": customer.phone,
        "billing_address": customer.billing_address,
        "is_active": customer.is_active,
        "currency": customer.currency,
        "products": [
            {"sku": p.sku, "description": p.description, "case_size": p.case_size} for p in customer.products.all()
        ],
        "rate_card": [
            {
                "service": line.service.name,
                "unit_price": _decimal_text(line.unit_price),
                "tier_basis": line.tier_basis,
                "tier_scope": line.tier_scope,
                "tiers": [
                    {"up_to": _decimal_text(t.up_to), "unit_price": _decimal_text(t.unit_price)}
                    for t in line.tiers.all()
                ],
                "skus": [p.sku for p in line.skus.all()],
                "is_active": line.is_active,
                **_storage_keys(line),
                "rule_groups": [
                    {
                        "logic_operator": g.logic_operator,
                        "name": g.name,
                        "rules": [{"field": r.field, "operator": r.operator, "value": r.value} for r in g.rules.all()],
                    }
                    for g in line.rule_groups.all()
                ],
            }
            for line in customer.rate_card.all()
        ],
        **_adjustment_keys(customer),
    }


def _storage_keys(line: CustomerService) -> dict[str, str]:
    """A storage line's period and basis; nothing for lines without them (documents stay as they were)."""
    keys = {"storage_period": line.storage_period, "storage_basis": line.storage_basis}
    return {name: value for name, value in keys.items() if value}


def _adjustment_keys(customer: Customer) -> dict[str, Any]:
    """The customer's adjustments (docs/rate-card-format.md); nothing for a customer without any."""
    adjustments = list(
        RateCardAdjustment.objects.filter(customer=customer)
        .order_by("kind", "position", "id")
        .prefetch_related("services__service")
    )
    if not adjustments:
        return {}
    return {
        "adjustments": [
            {
                "kind": a.kind,
                "percent": _decimal_text(a.percent),
                "amount": _decimal_text(a.amount),
                "services": sorted(line.service.name for line in a.services.all()),
                "start_date": a.start_date.isoformat() if a.start_date else None,
                "end_date": a.end_date.isoformat() if a.end_date else None,
                "description": a.description,
                "position": a.position,
                "is_active": a.is_active,
            }
            for a in adjustments
        ]
    }


# --- import --------------------------------------------------------------------------------


def rate_card_loads(text: str) -> Any:
    """The document of a rate-card JSON text; ValidationFailed when it is not JSON or too deep.

    A key given twice in one object is kept so that rate_card_import refuses it, naming it (the
    JSON decoder alone would silently keep the last value).
    """
    try:
        return json.loads(text, object_pairs_hook=object_from_pairs)
    except json.JSONDecodeError as exc:
        message = f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
    except RecursionError:
        message = f"nested too deeply (a rate-card document has at most {MAX_DEPTH} levels)"
    raise ValidationFailed(
        f"The rate card document is {message}; nothing was imported.", fields={"document": [message]}
    )


@transaction.atomic
def rate_card_import(*, document: Mapping[str, Any]) -> ImportSummary:
    """Validate the whole document, then upsert services, customers, products and rate-card lines.

    Raises ValidationFailed (details: {path: [messages]}) listing every problem; nothing is
    written then. Existing objects the document does not mention are left as they are; each
    rate-card line it mentions has its tiers, SKUs and rule groups replaced when they differ.
    Anything equal to what is stored is counted as unchanged and not written, so importing the
    same document twice writes nothing the second time.
    """
    services, customers = rate_card_plan(document)
    summary = ImportSummary()
    by_name = {service.name: service for service in Service.objects.select_for_update().all()}
    for plan in services:
        service = by_name.get(plan.name)
        if service is None:
            by_name[plan.name] = Service.objects.create(
                name=plan.name, description=plan.description, charge_type=plan.charge_type
            )
            summary.services_created += 1
        elif (service.description, service.charge_type) == (plan.description, plan.charge_type):
            summary.services_unchanged += 1
        else:
            service.description = plan.description
            service.charge_type = plan.charge_type
            service.save(update_fields=["description", "charge_type"])
            summary.services_updated += 1

    for customer_plan in customers:
        customer = customer_plan.existing
        if customer is None:
            customer = Customer(pk=customer_plan.new_id, **customer_plan.fields)
            if customer_plan.new_id is None:
                customer.save()
            else:
                customers_create_with_ids([customer])
            summary.customers_created += 1
        elif all(getattr(customer, name) == value for name, value in customer_plan.fields.items()):
            summary.customers_unchanged += 1
        else:
            for name, value in customer_plan.fields.items():
                setattr(customer, name, value)
            customer.save()
            summary.customers_updated += 1
        _write_products(customer, customer_plan, summary)
        _write_lines(customer, customer_plan, by_name, summary)
        _write_adjustments(customer, customer_plan)
    return summary


def _write_adjustments(customer: Customer, plan: CustomerPlan) -> None:
    """Replace the customer's adjustments with the document's when it gives them and they differ."""
    if plan.adjustments is None:
        return

    def values(a: Any, services: list[str]) -> tuple[Any, ...]:
        return (a.kind, a.percent, a.amount, services, a.start_date, a.end_date, a.description, a.position, a.is_active)

    wanted = [values(a, sorted(a.services)) for a in plan.adjustments]
    stored = RateCardAdjustment.objects.filter(customer=customer).prefetch_related("services__service")
    current = [values(a, sorted(line.service.name for line in a.services.all())) for a in stored]
    if sorted(current, key=repr) == sorted(wanted, key=repr):
        return
    stored.delete()
    lines = dict(CustomerService.objects.filter(customer=customer).values_list("service__name", "pk"))
    for a in plan.adjustments:
        made = RateCardAdjustment.objects.create(
            customer=customer,
            kind=a.kind,
            percent=a.percent,
            amount=a.amount,
            start_date=a.start_date,
            end_date=a.end_date,
            description=a.description,
            position=a.position,
            is_active=a.is_active,
        )
        made.services.set([lines[name] for name in a.services])


def _write_products(customer: Customer, plan: CustomerPlan, summary: ImportSummary) -> None:
    existing = {product.sku_key: product for product in Product.objects.filter(customer=customer)}
    to_create, to_update = [], []
    for sku, description, case_size in plan.products:
        key = normalize_sku(sku)
        product = existing.get(key)
        if product is None:
            to_create.append(
                Product(customer=customer, sku=sku, sku_key=key, description=description, case_size=case_size)
            )
        elif (product.sku, product.description, product.case_size) == (sku, description, case_size):
            summary.products_unchanged += 1
        else:
            product.sku, product.description, product.case_size = sku, description, case_size
            to_update.append(product)
    Product.objects.bulk_create(to_create)
    Product.objects.bulk_update(to_update, ["sku", "description", "case_size"])
    summary.products_created += len(to_create)
    summary.products_updated += len(to_update)


def _stored_line(line: CustomerService) -> tuple[Any, ...]:
    """What a stored rate-card line holds, in the form _planned_line gives a document's line."""
    return (
        line.unit_price,
        line.tier_basis,
        line.tier_scope,
        line.is_active,
        line.storage_period,
        line.storage_basis,
        [(tier.up_to, tier.unit_price) for tier in line.tiers.all()],
        sorted(product.sku_key for product in line.skus.all()),
        [
            (group.logic_operator, group.name, [(r.field, r.operator, r.value) for r in group.rules.all()])
            for group in line.rule_groups.all()
        ],
    )


def _planned_line(plan: LinePlan) -> tuple[Any, ...]:
    return (
        plan.unit_price,
        plan.tier_basis,
        plan.tier_scope,
        plan.is_active,
        plan.storage_period,
        plan.storage_basis,
        plan.tiers,
        sorted(plan.skus),
        plan.rule_groups,
    )


def _write_lines(
    customer: Customer, plan: CustomerPlan, services: Mapping[str, Service], summary: ImportSummary
) -> None:
    if not plan.lines:
        return
    products = dict(Product.objects.filter(customer=customer).values_list("sku_key", "pk"))
    existing = {
        line.service_id: line
        for line in CustomerService.objects.filter(customer=customer).prefetch_related(
            "tiers",
            "skus",
            Prefetch(
                "rule_groups",
                queryset=RuleGroup.objects.order_by("id").prefetch_related(
                    Prefetch("rules", queryset=Rule.objects.order_by("id"))
                ),
            ),
        )
    }
    groups_to_create: list[tuple[RuleGroup, list[tuple[str, str, str]]]] = []
    tiers: list[PriceTier] = []
    touched: list[CustomerService] = []
    for line_plan in plan.lines:
        service = services[line_plan.service]
        line = existing.get(service.pk)
        values = {
            "unit_price": line_plan.unit_price,
            "tier_basis": line_plan.tier_basis,
            "tier_scope": line_plan.tier_scope,
            "is_active": line_plan.is_active,
            "storage_period": line_plan.storage_period,
            "storage_basis": line_plan.storage_basis,
        }
        if line is None:
            line = CustomerService.objects.create(customer=customer, service=service, **values)
            summary.lines_created += 1
        elif _stored_line(line) == _planned_line(line_plan):
            summary.lines_unchanged += 1
            continue
        else:
            for name, value in values.items():
                setattr(line, name, value)
            line.save()
            summary.lines_updated += 1
        touched.append(line)
        line.skus.set([products[sku] for sku in line_plan.skus])
        tiers.extend(
            PriceTier(customer_service=line, up_to=up_to, unit_price=price) for up_to, price in line_plan.tiers
        )
        groups_to_create.extend(
            (RuleGroup(customer_service=line, logic_operator=logic, name=name), rules)
            for logic, name, rules in line_plan.rule_groups
        )
    PriceTier.objects.filter(customer_service__in=touched).delete()
    RuleGroup.objects.filter(customer_service__in=touched).delete()
    PriceTier.objects.bulk_create(tiers)
    # Created one by one so ids follow the document's order (bulk_create does too, but not on every backend).
    for group, _ in groups_to_create:
        group.save()
    Rule.objects.bulk_create(
        Rule(rule_group=group, field=f, operator=op, value=value)
        for group, rules in groups_to_create
        for f, op, value in rules
    )


# --- single rules (admin, API) -----------------------------------------------------------


def rule_check(*, field: str, operator: str, value: str, label: str = "", charge_type: str = "") -> None:
    """Raise ValidationFailed, with a message naming the rule, if the engine cannot evaluate it.

    `charge_type` is that of the rule's rate-card line: a line pricing activity (storage,
    receiving, returns, extra work) tests the activity's own fields, every other line the order's."""
    activity = ACTIVITY_CHARGE_TYPES.get(charge_type)
    kinds = ACTIVITY_FIELD_KINDS[activity] if activity else FIELD_KINDS
    try:
        validate_rule(RuleData(field=field, operator=operator, value=value, label=label), kinds=kinds)
    except RuleValidationError as exc:
        raise ValidationFailed(str(exc), fields={"rule": [str(exc)]}) from None


def adjustment_check(
    *,
    kind: str,
    percent: Decimal | None,
    amount: Decimal | None,
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
    customer_id: int | None = None,
    customer_service_ids: Sequence[int] = (),
    label: str = "",
) -> None:
    """Raise ValidationFailed if the adjustment cannot be applied (validate_adjustment), or if a
    chosen rate-card line is not the customer's."""
    data = AdjustmentData(
        adjustment_id=0,
        kind=kind,
        percent=percent,
        amount=amount,
        customer_service_ids=frozenset(customer_service_ids),
        start_date=start_date,
        end_date=end_date,
    )
    try:
        validate_adjustment(data, label or kind)
    except RuleValidationError as exc:
        raise ValidationFailed(str(exc), fields={"adjustment": [str(exc)]}) from None
    if customer_id is not None and customer_service_ids:
        foreign = set(customer_service_ids) - set(
            CustomerService.objects.filter(customer_id=customer_id, pk__in=customer_service_ids).values_list(
                "pk", flat=True
            )
        )
        if foreign:
            message = f"Adjustment '{label or kind}': rate-card lines {sorted(foreign)} are not the customer's."
            raise ValidationFailed(message, fields={"services": [message]})
