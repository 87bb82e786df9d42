"""Rate cards as one JSON document: export, and validated all-or-nothing import.

The format is described in docs/rate-card-format.md. `rate_card_export` writes the document;
`rate_card_import` checks the whole document first (schema, decimals, enums, references,
every rule and every line through the pricing engine's validators), reports every problem
at once as `ValidationFailed` with details `{path: [messages]}`, and writes nothing unless
everything is valid. Exporting, importing and exporting again gives the same document.

Also here: `rule_save`, the one way to write a single rule with the engine's validation.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Prefetch

from billing.errors import NotFound, ValidationFailed
from billing.models import (
    ChargeType,
    Customer,
    CustomerService,
    PriceTier,
    Product,
    Rule,
    RuleGroup,
    RuleGroupLogic,
    Service,
)
from billing.pricing import (
    RateLineData,
    RuleData,
    RuleValidationError,
    normalize_sku,
    validate_rate_line,
    validate_rule,
)
from billing.services.customers import customers_create_with_ids
from billing.services.orders import is_storable_text

FORMAT_VERSION = 1

_TOP_KEYS = {"version": True, "services": True, "customers": True}  # key -> required
_SERVICE_KEYS = {"name": True, "description": False, "charge_type": True}
_CUSTOMER_KEYS = {
    "id": False,
    "company_name": True,
    "legal_business_name": False,
    "email": False,
    "phone": False,
    "billing_address": False,
    "is_active": False,
    "currency": False,
    "products": False,
    "rate_card": False,
}
_PRODUCT_KEYS = {"sku": True, "description": False, "case_size": False}
_LINE_KEYS = {
    "service": True,
    "unit_price": True,
    "tier_basis": False,
    "tiers": False,
    "skus": False,
    "is_active": False,
    "rule_groups": False,
}
_TIER_KEYS = {"up_to": True, "unit_price": True}
_GROUP_KEYS = {"logic_operator": False, "name": False, "rules": False}
_RULE_KEYS = {"field": True, "operator": True, "value": True}

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_PRICE_PLACES = 4
_PRICE_QUANTUM = Decimal("0.0001")
_PRICE_LIMIT = Decimal(10) ** 8  # DecimalField(max_digits=12, decimal_places=4)
_BOUND_LIMIT = Decimal(10) ** 10  # DecimalField(max_digits=14, decimal_places=4)
_MAX_CASE_SIZE = 2_147_483_647
_MAX_ID = 2**63 - 1
# The format nests 7 levels (document > customers > customer > rate_card > line > rule_groups >
# group > rules > rule); anything deeper is not a rate card (and a self-containing object never ends).
MAX_DEPTH = 12


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
                "tiers": [
                    {"up_to": _decimal_text(t.up_to), "unit_price": _decimal_text(t.unit_price)}
                    for t in line.tiers.all()
                ],
                "skus": [p.sku for p in line.skus.all()],
                "is_active": line.is_active,
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
    }


# --- validation ----------------------------------------------------------------------------


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


class _Errors:
    def __init__(self) -> None:
        self.by_path: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.by_path.setdefault(path or "document", []).append(message)

    def __bool__(self) -> bool:
        return bool(self.by_path)

    @property
    def count(self) -> int:
        return sum(len(messages) for messages in self.by_path.values())


@dataclass(slots=True)
class _ServicePlan:
    name: str
    description: str
    charge_type: str


@dataclass(slots=True)
class _LinePlan:
    path: str
    service: str
    unit_price: Decimal
    tier_basis: str
    tiers: list[tuple[Decimal | None, Decimal]]
    skus: list[str]  # normalised keys of the customer's products
    is_active: bool
    rule_groups: list[tuple[str, str, list[tuple[str, str, str]]]]  # (logic, name, [(field, operator, value)])


@dataclass(slots=True)
class _CustomerPlan:
    path: str
    existing: Customer | None
    fields: dict[str, Any]  # only the keys present in the document
    products: list[tuple[str, str, int]]  # (sku as entered, description, case_size)
    lines: list[_LinePlan] = field(default_factory=list)
    new_id: int | None = None  # a customer the document creates with its id


class _Reader:
    """Walks the document, collecting every problem with its path."""

    def __init__(self, errors: _Errors) -> None:
        self.errors = errors

    def obj(self, value: Any, path: str, keys: Mapping[str, bool]) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.errors.add(path, f"must be an object, got {_type_name(value)}")
            return None
        checked = dict(value)
        for key in getattr(value, "duplicate_keys", ()):
            self.errors.add(_join(path, str(key)), "duplicate key: the document gives it more than once")
        for key in value:
            if key not in keys:
                self.errors.add(_join(path, str(key)), f"unknown key (allowed: {', '.join(keys)})")
        for key, required in keys.items():
            if required and key not in value:
                self.errors.add(_join(path, key), "is required")
                checked[key] = _MISSING  # reported here; the readers below skip it silently
        return checked

    def array(self, value: Any, path: str) -> list[Any]:
        if value is _MISSING:
            return []
        if not isinstance(value, list):
            self.errors.add(path, f"must be an array, got {_type_name(value)}")
            return []
        return value

    def text(self, value: Any, path: str, *, max_length: int, required: bool = False) -> str | None:
        if value is _MISSING:
            return None
        if not isinstance(value, str):
            self.errors.add(path, f"must be a string, got {_type_name(value)}")
            return None
        if required and not value.strip():
            self.errors.add(path, "must not be empty")
            return None
        if len(value) > max_length:
            self.errors.add(path, f"is longer than {max_length} characters")
            return None
        return value

    def boolean(self, value: Any, path: str) -> bool | None:
        if value is _MISSING:
            return None
        if not isinstance(value, bool):
            self.errors.add(path, f"must be true or false, got {_type_name(value)}")
            return None
        return value

    def choice(self, value: Any, path: str, choices: Sequence[str]) -> str | None:
        if value is _MISSING:
            return None
        if not isinstance(value, str) or value not in choices:
            allowed = ", ".join(choice or '""' for choice in choices)
            self.errors.add(path, f"must be one of {allowed}, got {value!r}")
            return None
        return value

    def decimal(self, value: Any, path: str, *, limit: Decimal, positive: bool = False) -> Decimal | None:
        """A decimal given as a string ("0.25") or an integer; floats are refused (money is exact)."""
        if value is _MISSING:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            self.errors.add(path, f'must be a decimal string such as "0.25", got {_type_name(value)} {value!r}')
            return None
        try:
            number = Decimal(value.strip() if isinstance(value, str) else value)
        except InvalidOperation:
            self.errors.add(path, f"is not a decimal number: {value!r}")
            return None
        if not number.is_finite():
            self.errors.add(path, f"is not a finite number: {value!r}")
            return None
        if positive and number <= 0:
            self.errors.add(path, f"must be greater than 0, got {value!r}")
            return None
        if number < 0:
            self.errors.add(path, f"must not be negative, got {value!r}")
            return None
        if number >= limit:
            self.errors.add(path, f"is too large: {value!r}")
            return None
        quantized = number.quantize(_PRICE_QUANTUM)
        if quantized != number:
            self.errors.add(path, f"has more than {_PRICE_PLACES} decimal places: {value!r}")
            return None
        return quantized


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, Decimal)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _plan(document: Any, errors: _Errors) -> tuple[list[_ServicePlan], list[_CustomerPlan]]:
    """Check the whole document against the schema and the database; never writes."""
    read = _Reader(errors)
    top = read.obj(document, "", _TOP_KEYS)
    if top is None:
        return [], []
    version = top.get("version")
    if version is not _MISSING and (isinstance(version, bool) or version != FORMAT_VERSION):
        errors.add("version", f"must be {FORMAT_VERSION}, got {version!r}")

    # Services: the document's, over the catalogue.
    charge_types: dict[str, str] = dict(Service.objects.values_list("name", "charge_type"))
    catalogue = dict(charge_types)
    service_plans: list[_ServicePlan] = []
    seen_services: dict[str, str] = {}
    for index, item in enumerate(read.array(top.get("services"), "services")):
        path = f"services[{index}]"
        obj = read.obj(item, path, _SERVICE_KEYS)
        if obj is None:
            continue
        name = read.text(obj.get("name"), f"{path}.name", max_length=255, required=True)
        description = read.text(obj.get("description", ""), f"{path}.description", max_length=100_000)
        charge_type = read.choice(obj.get("charge_type"), f"{path}.charge_type", ChargeType.values)
        if name is not None and name in seen_services:
            errors.add(f"{path}.name", f"duplicate service {name!r} (also {seen_services[name]})")
            continue
        if name is None or description is None or charge_type is None:
            continue
        seen_services[name] = path
        charge_types[name] = charge_type
        service_plans.append(_ServicePlan(name, description, charge_type))

    customer_plans: list[_CustomerPlan] = []
    resolved: dict[int | str, str] = {}  # customer pk or new company name -> path of its entry
    for index, item in enumerate(read.array(top.get("customers"), "customers")):
        plan = _plan_customer(read, item, f"customers[{index}]", charge_types, resolved)
        if plan is not None:
            customer_plans.append(plan)

    # A service whose charge type changes must have every line using it described here (and so re-checked).
    for service in service_plans:
        old = catalogue.get(service.name)
        if old is None or old == service.charge_type:
            continue
        described = {
            plan.existing.pk
            for plan in customer_plans
            if plan.existing is not None and any(line.service == service.name for line in plan.lines)
        }
        others = (
            CustomerService.objects.filter(service__name=service.name)
            .exclude(customer_id__in=described)
            .values_list("customer__company_name", flat=True)
        )
        names = sorted(set(others))
        if names:
            errors.add(
                f"services[{service_plans.index(service)}].charge_type",
                f"cannot change {service.name!r} from {old} to {service.charge_type}: it is on the rate card of "
                f"{', '.join(names)}, which this document does not describe",
            )
    return service_plans, customer_plans


def _plan_customer(
    read: _Reader, item: Any, path: str, charge_types: Mapping[str, str], resolved: dict[int | str, str]
) -> _CustomerPlan | None:
    errors = read.errors
    obj = read.obj(item, path, _CUSTOMER_KEYS)
    if obj is None:
        return None
    fields: dict[str, Any] = {}
    company_name = read.text(obj.get("company_name"), f"{path}.company_name", max_length=255, required=True)
    if company_name is not None:
        fields["company_name"] = company_name
    if "legal_business_name" in obj:
        value = read.text(obj["legal_business_name"], f"{path}.legal_business_name", max_length=255)
        if value is not None:
            fields["legal_business_name"] = value
    if "email" in obj:
        value = read.text(obj["email"], f"{path}.email", max_length=254)
        if value:
            try:
                validate_email(value)
            except ValidationError:
                errors.add(f"{path}.email", f"is not a valid email address: {value!r}")
                value = None
        if value is not None:
            fields["email"] = value
    for name, max_length in (("phone", 50), ("billing_address", 1000)):
        if name in obj:
            value = read.text(obj[name], f"{path}.{name}", max_length=max_length)
            if value is not None:
                fields[name] = value
    if "is_active" in obj:
        is_active = read.boolean(obj["is_active"], f"{path}.is_active")
        if is_active is not None:
            fields["is_active"] = is_active
    if "currency" in obj:
        value = obj["currency"]
        if not isinstance(value, str) or not _CURRENCY.match(value):
            errors.add(f"{path}.currency", f"must be a three-letter ISO 4217 code such as 'USD', got {value!r}")
        else:
            fields["currency"] = value

    # Which customer: by id when given (created with that id when none has it), else by company name.
    existing: Customer | None = None
    new_id: int | None = None
    if "id" in obj:
        pk = obj["id"]
        if isinstance(pk, bool) or not isinstance(pk, int):
            errors.add(f"{path}.id", f"must be an integer, got {_type_name(pk)}")
        else:
            existing = Customer.objects.filter(pk=pk).first()
            if existing is None and not 1 <= pk <= _MAX_ID:
                errors.add(f"{path}.id", f"must be between 1 and {_MAX_ID}, got {pk}")
            elif existing is None and company_name is None:
                pass  # company_name is reported as required
            elif existing is None:
                new_id = pk
    elif company_name is not None:
        matches = list(Customer.objects.filter(company_name=company_name)[:2])
        if len(matches) > 1:
            errors.add(f"{path}.company_name", f"several customers are named {company_name!r}: give an id")
        elif matches:
            existing = matches[0]
    if existing is not None:
        key: int | str = existing.pk
    elif new_id is not None:
        key = new_id
    elif "id" not in obj and company_name is not None:
        key = f"new:{company_name}"
    else:
        key = ""
    if key in resolved:
        errors.add(path, f"describes the same customer as {resolved[key]}")
    elif key:
        resolved[key] = path

    # Products: the document's, over the customer's existing ones.
    products: list[tuple[str, str, int]] = []
    known_skus: set[str] = set()  # normalised
    if existing is not None:
        known_skus = set(Product.objects.filter(customer=existing).values_list("sku_key", flat=True))
    seen_skus: dict[str, str] = {}
    for index, item in enumerate(read.array(obj.get("products", []), f"{path}.products")):
        ppath = f"{path}.products[{index}]"
        product = read.obj(item, ppath, _PRODUCT_KEYS)
        if product is None:
            continue
        raw_sku = read.text(product.get("sku"), f"{ppath}.sku", max_length=100, required=True)
        description = read.text(product.get("description", ""), f"{ppath}.description", max_length=255)
        case_size = product.get("case_size", 1)
        if isinstance(case_size, bool) or not isinstance(case_size, int) or not 1 <= case_size <= _MAX_CASE_SIZE:
            errors.add(f"{ppath}.case_size", f"must be a whole number >= 1, got {case_size!r}")
            case_size = None
        if raw_sku is None:
            continue
        key = normalize_sku(raw_sku)
        if not key:
            errors.add(f"{ppath}.sku", f"is not a valid SKU: {raw_sku!r}")
            continue
        if key in seen_skus:
            errors.add(f"{ppath}.sku", f"duplicate SKU {raw_sku!r} (the same SKU as {seen_skus[key]})")
            continue
        seen_skus[key] = ppath
        known_skus.add(key)
        if description is not None and case_size is not None:
            products.append((raw_sku.strip(), description, case_size))

    plan = _CustomerPlan(path=path, existing=existing, fields=fields, products=products, new_id=new_id)
    seen_lines: dict[str, str] = {}
    for index, item in enumerate(read.array(obj.get("rate_card", []), f"{path}.rate_card")):
        lpath = f"{path}.rate_card[{index}]"
        service = item.get("service") if isinstance(item, Mapping) else None
        if isinstance(service, str) and service in seen_lines:
            errors.add(f"{lpath}.service", f"duplicate line for service {service!r} (also {seen_lines[service]})")
            continue
        if isinstance(service, str):
            seen_lines[service] = lpath
        line = _plan_line(read, item, lpath, charge_types, known_skus)
        if line is None:
            continue
        plan.lines.append(line)
    return plan


def _plan_line(
    read: _Reader, item: Any, path: str, charge_types: Mapping[str, str], known_skus: set[str]
) -> _LinePlan | None:
    errors = read.errors
    obj = read.obj(item, path, _LINE_KEYS)
    if obj is None:
        return None
    count = errors.count
    service = read.text(obj.get("service"), f"{path}.service", max_length=255, required=True)
    if service is not None and service not in charge_types:
        errors.add(f"{path}.service", f"unknown service {service!r}: define it under 'services'")
        service = None
    unit_price = read.decimal(obj.get("unit_price"), f"{path}.unit_price", limit=_PRICE_LIMIT)
    tier_basis = read.choice(obj.get("tier_basis", ""), f"{path}.tier_basis", ["", *ChargeType.values])
    is_active = read.boolean(obj.get("is_active", True), f"{path}.is_active")

    tiers: list[tuple[Decimal | None, Decimal]] = []
    for index, tier_item in enumerate(read.array(obj.get("tiers", []), f"{path}.tiers")):
        tpath = f"{path}.tiers[{index}]"
        tier = read.obj(tier_item, tpath, _TIER_KEYS)
        if tier is None:
            continue
        up_to = tier["up_to"]
        bound = None if up_to is None else read.decimal(up_to, f"{tpath}.up_to", limit=_BOUND_LIMIT, positive=True)
        price = read.decimal(tier.get("unit_price"), f"{tpath}.unit_price", limit=_PRICE_LIMIT)
        if price is not None and (up_to is None or bound is not None):
            tiers.append((bound, price))

    skus: list[str] = []
    for index, raw in enumerate(read.array(obj.get("skus", []), f"{path}.skus")):
        spath = f"{path}.skus[{index}]"
        if not isinstance(raw, str):
            errors.add(spath, f"must be a string, got {_type_name(raw)}")
            continue
        sku = normalize_sku(raw)
        if sku not in known_skus:
            errors.add(spath, f"unknown SKU {raw!r}: add it to the customer's products")
            continue
        if sku in skus:
            errors.add(spath, f"duplicate SKU {raw!r}")
            continue
        skus.append(sku)

    groups: list[tuple[str, str, list[tuple[str, str, str]]]] = []
    for gindex, group_item in enumerate(read.array(obj.get("rule_groups", []), f"{path}.rule_groups")):
        gpath = f"{path}.rule_groups[{gindex}]"
        group = read.obj(group_item, gpath, _GROUP_KEYS)
        if group is None:
            continue
        logic = read.choice(group.get("logic_operator", "AND"), f"{gpath}.logic_operator", RuleGroupLogic.values)
        name = read.text(group.get("name", ""), f"{gpath}.name", max_length=255)
        rules: list[tuple[str, str, str]] = []
        for rindex, rule_item in enumerate(read.array(group.get("rules", []), f"{gpath}.rules")):
            rpath = f"{gpath}.rules[{rindex}]"
            rule = read.obj(rule_item, rpath, _RULE_KEYS)
            if rule is None or _MISSING in (rule["field"], rule["operator"], rule["value"]):
                continue
            data = RuleData(field=rule["field"], operator=rule["operator"], value=rule["value"], label=rpath)
            try:
                validate_rule(data)
            except RuleValidationError as exc:
                errors.add(rpath, exc.reason)
                continue
            max_length = Rule._meta.get_field("value").max_length
            if max_length is not None and len(data.value) > max_length:
                errors.add(f"{rpath}.value", "is longer than 1000 characters")
                continue
            rules.append((data.field, data.operator, data.value))
        if logic is not None and name is not None:
            groups.append((logic, name, rules))

    if errors.count != count or service is None or unit_price is None or tier_basis is None:
        return None  # the line's own problems are reported; do not pile engine errors on top
    if is_active is None:
        return None
    line = RateLineData.build(
        service_name=service,
        charge_type=charge_types[service],
        unit_price=unit_price,
        tier_basis=tier_basis,
        tiers=tiers,
        skus=skus,
    )
    try:
        validate_rate_line(line, path)
    except RuleValidationError as exc:
        errors.add(path, exc.reason)
        return None
    return _LinePlan(
        path=path,
        service=service,
        unit_price=unit_price,
        tier_basis=tier_basis,
        tiers=tiers,
        skus=skus,
        is_active=is_active,
        rule_groups=groups,
    )


# --- import --------------------------------------------------------------------------------


class _Pairs(dict):
    """A decoded JSON object that remembers the keys the text gave more than once."""

    duplicate_keys: tuple[str, ...] = ()


def _object_from_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = _Pairs(pairs)
    if len(obj) != len(pairs):
        counts = Counter(key for key, _ in pairs)
        obj.duplicate_keys = tuple(key for key, count in counts.items() if count > 1)
    return obj


def rate_card_loads(text: str) -> Any:
    """The document of a rate-card JSON text; ValidationFailed when it is not JSON or too deep.

    A key given twice in one object is kept so that rate_card_import refuses it, naming it (the
    JSON decoder alone would silently keep the last value).
    """
    try:
        return json.loads(text, object_pairs_hook=_object_from_pairs)
    except json.JSONDecodeError as exc:
        message = f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
    except RecursionError:
        message = f"nested too deeply (a rate-card document has at most {MAX_DEPTH} levels)"
    raise ValidationFailed(
        f"The rate card document is {message}; nothing was imported.", fields={"document": [message]}
    )


def _structure_errors(document: Any, errors: _Errors) -> None:
    """Depth and NUL characters, checked without recursion before the document is read.

    A self-containing (recursive) structure, passed in code, is refused as too deep.
    """
    stack: list[tuple[Any, str, int]] = [(document, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                errors.add(path, "contains a NUL character")
            elif not value.isascii() and not is_storable_text(value):
                errors.add(path, "is not valid Unicode text (a lone surrogate such as \\ud800)")
        elif isinstance(value, (Mapping, list)):
            if depth >= MAX_DEPTH:
                errors.add(path, f"is nested too deeply (a rate-card document has at most {MAX_DEPTH} levels)")
                continue
            items = value.items() if isinstance(value, Mapping) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and "\x00" in key:
                    errors.add(path, "has a key with a NUL character")
                    continue
                child = f"{path}[{key}]" if isinstance(value, list) else _join(path, str(key))
                stack.append((item, child, depth + 1))


@transaction.atomic
def rate_card_import(*, document: Mapping[str, Any]) -> ImportSummary:
    """Validate the whole document, then upsert services, customers, products and rate-card lines.

    Raises ValidationFailed (details: {path: [messages]}) listing every problem; nothing is
    written then. Existing objects the document does not mention are left as they are; each
    rate-card line it mentions has its tiers, SKUs and rule groups replaced when they differ.
    Anything equal to what is stored is counted as unchanged and not written, so importing the
    same document twice writes nothing the second time.
    """
    errors = _Errors()
    _structure_errors(document, errors)
    services: list[_ServicePlan] = []
    customers: list[_CustomerPlan] = []
    if not errors:
        services, customers = _plan(document, errors)
    if errors:
        raise ValidationFailed(
            f"The rate card document has {errors.count} error{'' if errors.count == 1 else 's'}; nothing was imported.",
            fields=errors.by_path,
        )

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
    return summary


def _write_products(customer: Customer, plan: _CustomerPlan, summary: ImportSummary) -> None:
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
        line.is_active,
        [(tier.up_to, tier.unit_price) for tier in line.tiers.all()],
        sorted(product.sku_key for product in line.skus.all()),
        [
            (group.logic_operator, group.name, [(r.field, r.operator, r.value) for r in group.rules.all()])
            for group in line.rule_groups.all()
        ],
    )


def _planned_line(plan: _LinePlan) -> tuple[Any, ...]:
    return (plan.unit_price, plan.tier_basis, plan.is_active, plan.tiers, sorted(plan.skus), plan.rule_groups)


def _write_lines(
    customer: Customer, plan: _CustomerPlan, services: Mapping[str, Service], summary: ImportSummary
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
            "is_active": line_plan.is_active,
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


def rule_check(*, field: str, operator: str, value: str, label: str = "") -> None:
    """Raise ValidationFailed, with a message naming the rule, if the engine cannot evaluate it."""
    try:
        validate_rule(RuleData(field=field, operator=operator, value=value, label=label))
    except RuleValidationError as exc:
        raise ValidationFailed(str(exc), fields={"rule": [str(exc)]}) from None


@transaction.atomic
def rule_save(*, rule_group: RuleGroup, field: str, operator: str, value: str, rule: Rule | None = None) -> Rule:
    """Create a rule in `rule_group` (or update `rule`) after validating it with the pricing engine."""
    label = f"#{rule.pk}" if rule is not None and rule.pk else ""  # a new rule is named by its text
    rule_check(field=field, operator=operator, value=value, label=label)
    if rule is None:
        rule = Rule(rule_group=rule_group)
    rule.rule_group, rule.field, rule.operator, rule.value = rule_group, field, operator, value
    rule.save()
    return rule
