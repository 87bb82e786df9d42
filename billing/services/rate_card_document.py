"""The rate-card document (docs/rate-card-format.md) read and checked by nested DRF serializers.

`rate_card_plan` checks the whole document and returns what the import writes, or raises
ValidationFailed with every problem at once, by path (`customers[0].rate_card[1].unit_price`).
The serializers check each object's keys and values; DRF's nested errors are flattened into
those paths. The checks that span objects (a line names a service of the document or the
catalogue, a SKU of its customer's products, a customer given twice) keep what they have
seen in the root serializer's context, so they run on every valid part even when other parts
are invalid. Fields never coerce (billing/services/strict_json.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.fields import SkipField

from billing.errors import ValidationFailed
from billing.ids import MAX_ID
from billing.models import (
    AdjustmentKind,
    ChargeType,
    Customer,
    CustomerService,
    Product,
    Rule,
    RuleGroupLogic,
    Service,
    StorageBasis,
    StoragePeriod,
    TierScope,
)
from billing.periods import parse_date
from billing.pricing import (
    FIELD_KINDS,
    ORDER_CHARGE_TYPES,
    RateLineData,
    RuleData,
    RuleGroupData,
    RuleValidationError,
    normalize_sku,
    validate_rate_line,
    validate_rule,
)
from billing.pricing.activity import AdjustmentData, validate_adjustment
from billing.pricing.fields import ACTIVITY_FIELD_KINDS
from billing.services.strict_json import (
    Anything,
    Boolean,
    Choice,
    Currency,
    DecimalText,
    Email,
    Exactly,
    Field,
    Integer,
    Object,
    Text,
    WholeNumber,
    flatten_errors,
    path_of,
    structure_errors,
    type_name,
)

FORMAT_VERSION = 1
# The format nests 7 levels (document > customers > customer > rate_card > line > rule_groups >
# group > rules > rule); anything deeper is not a rate card (and a self-containing object never ends).
MAX_DEPTH = 12

_PRICE_LIMIT = Decimal(10) ** 8  # DecimalField(max_digits=12, decimal_places=4)
_BOUND_LIMIT = Decimal(10) ** 10  # DecimalField(max_digits=14, decimal_places=4)
_MAX_CASE_SIZE = 2_147_483_647


@dataclass(slots=True)
class ServicePlan:
    name: str
    description: str
    charge_type: str


@dataclass(slots=True)
class LinePlan:
    service: str
    unit_price: Decimal
    tier_basis: str
    tier_scope: str
    tiers: list[tuple[Decimal | None, Decimal]]
    skus: list[str]  # normalised keys of the customer's products
    is_active: bool
    rule_groups: list[tuple[str, str, list[tuple[str, str, str]]]]  # (logic, name, [(field, operator, value)])
    storage_period: str = ""
    storage_basis: str = ""


@dataclass(slots=True)
class AdjustmentPlan:
    kind: str
    percent: Decimal | None
    amount: Decimal | None
    services: list[str]  # service names of the customer's lines
    start_date: Any
    end_date: Any
    description: str
    position: int
    is_active: bool


@dataclass(slots=True)
class CustomerPlan:
    existing: Customer | None
    fields: dict[str, Any]  # only the keys present in the document
    products: list[tuple[str, str, int]]  # (sku as entered, description, case_size)
    lines: list[LinePlan]
    new_id: int | None = None  # a customer the document creates with its id
    adjustments: list[AdjustmentPlan] | None = None  # None: the document leaves them as they are


@dataclass(slots=True)
class _CustomerScope:
    """What one customer's products and lines are checked against."""

    existing: Customer | None = None
    new_id: int | None = None
    skus: set[str] = field(default_factory=set)  # normalised: its stored products and the document's
    product_paths: dict[str, str] = field(default_factory=dict)  # SKU key -> path of the product
    line_paths: dict[str, str] = field(default_factory=dict)  # service name -> path of its line
    described: set[str] = field(default_factory=set)  # services of its valid lines


@dataclass(slots=True)
class _DocumentState:
    """What the serializers have seen so far, and the problems that name more than one object."""

    catalogue: dict[str, str]  # stored service name -> charge type
    charge_types: dict[str, str]  # the catalogue, then the document's valid services
    service_paths: dict[str, str] = field(default_factory=dict)
    services: list[tuple[str, ServicePlan]] = field(default_factory=list)
    resolved: dict[int | str, str] = field(default_factory=dict)  # customer pk or new name -> path
    customers: list[_CustomerScope] = field(default_factory=list)
    customer: _CustomerScope = field(default_factory=_CustomerScope)  # the one being checked
    errors: dict[str, list[str]] = field(default_factory=dict)

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path or "document", []).append(message)


class _DocumentObject(Object):
    @property
    def state(self) -> _DocumentState:
        return self.context["state"]


class AssignedSkus(Field):
    """A line's SKUs: each one of its customer's products (compared normalised), once."""

    def to_internal_value(self, data: Any) -> list[str]:
        if not isinstance(data, list):
            raise ValidationError([f"must be an array, got {type_name(data)}"])
        scope = self.context["state"].customer
        skus: list[str] = []
        errors: dict[Any, list[str]] = {}
        for index, raw in enumerate(data):
            if not isinstance(raw, str):
                errors[index] = [f"must be a string, got {type_name(raw)}"]
            elif (sku := normalize_sku(raw)) not in scope.skus:
                errors[index] = [f"unknown SKU {raw!r}: add it to the customer's products"]
            elif sku in skus:
                errors[index] = [f"duplicate SKU {raw!r}"]
            else:
                skus.append(sku)
        if errors:
            raise ValidationError(errors)
        return skus


# Any field a rule of some line may test: the order's and the activities'. Which of them a rule
# may test depends on its line's charge type, checked with the line (LineSerializer.validate).
_ANY_RULE_FIELD = {
    **FIELD_KINDS,
    **{name: kind for kinds in ACTIVITY_FIELD_KINDS.values() for name, kind in kinds.items()},
}


class RuleSerializer(_DocumentObject):
    field = Anything()
    operator = Anything()
    value = Anything()

    def validate(self, attrs: dict[str, Any]) -> tuple[str, str, str]:
        data = RuleData(field=attrs["field"], operator=attrs["operator"], value=attrs["value"], label=path_of(self))
        try:
            validate_rule(data, kinds=_ANY_RULE_FIELD)
        except RuleValidationError as exc:
            raise ValidationError([exc.reason]) from None
        max_length = Rule._meta.get_field("value").max_length
        if max_length is not None and len(data.value) > max_length:
            raise ValidationError({"value": [f"is longer than {max_length} characters"]})
        return data.field, data.operator, data.value


class RuleGroupSerializer(_DocumentObject):
    logic_operator = Choice(RuleGroupLogic.values, default="AND")
    name = Text(max_length=255, default="")
    rules = RuleSerializer(many=True, required=False, default=list)

    def validate(self, attrs: dict[str, Any]) -> tuple[str, str, list[tuple[str, str, str]]]:
        return attrs["logic_operator"], attrs["name"], attrs["rules"]


class TierSerializer(_DocumentObject):
    up_to = DecimalText(limit=_BOUND_LIMIT, positive=True, allow_null=True)
    unit_price = DecimalText(limit=_PRICE_LIMIT)

    def validate(self, attrs: dict[str, Any]) -> tuple[Decimal | None, Decimal]:
        return attrs["up_to"], attrs["unit_price"]


class LineSerializer(_DocumentObject):
    service = Text(max_length=255, blank=False)
    unit_price = DecimalText(limit=_PRICE_LIMIT)
    tier_basis = Choice(["", *(code for code in ChargeType.values if code in ORDER_CHARGE_TYPES)], default="")
    tier_scope = Choice(TierScope.values, default=TierScope.PERIOD)
    tiers = TierSerializer(many=True, required=False, default=list)
    skus = AssignedSkus(required=False, default=list)
    is_active = Boolean(default=True)
    rule_groups = RuleGroupSerializer(many=True, required=False, default=list)
    storage_period = Choice(["", *StoragePeriod.values], default="")
    storage_basis = Choice(["", *StorageBasis.values], default="")

    def to_internal_value(self, data: Any) -> Any:
        # A second line for the same service is reported alone: its other problems would only repeat.
        scope = self.state.customer
        service = data.get("service") if isinstance(data, Mapping) else None
        if isinstance(service, str):
            if service in scope.line_paths:
                duplicate = f"duplicate line for service {service!r} (also {scope.line_paths[service]})"
                raise ValidationError({"service": [duplicate]})
            scope.line_paths[service] = path_of(self)
        return super().to_internal_value(data)

    def validate_service(self, service: str) -> str:
        if service not in self.state.charge_types:
            raise ValidationError([f"unknown service {service!r}: define it under 'services'"])
        return service

    def validate(self, attrs: dict[str, Any]) -> Any:
        # Only a line without problems of its own (unknown keys too) goes through the pricing engine's checks.
        if self.key_errors:
            return attrs
        line = RateLineData.build(
            service_name=attrs["service"],
            charge_type=self.state.charge_types[attrs["service"]],
            unit_price=attrs["unit_price"],
            tier_basis=attrs["tier_basis"],
            tier_scope=attrs["tier_scope"],
            tiers=attrs["tiers"],
            skus=attrs["skus"],
            storage_period=attrs["storage_period"],
            storage_basis=attrs["storage_basis"],
            rule_groups=[
                RuleGroupData(logic=logic, rules=tuple(RuleData(field=f, operator=o, value=v) for f, o, v in rules))
                for logic, _, rules in attrs["rule_groups"]
            ],
        )
        try:
            validate_rate_line(line, path_of(self))
        except RuleValidationError as exc:
            raise ValidationError([exc.reason]) from None
        self.state.customer.described.add(attrs["service"])
        return LinePlan(
            service=attrs["service"],
            unit_price=attrs["unit_price"],
            tier_basis=attrs["tier_basis"],
            tier_scope=attrs["tier_scope"],
            tiers=attrs["tiers"],
            skus=attrs["skus"],
            is_active=attrs["is_active"],
            rule_groups=attrs["rule_groups"],
            storage_period=attrs["storage_period"],
            storage_basis=attrs["storage_basis"],
        )


class DateText(Field):
    """A YYYY-MM-DD date as text, or null."""

    def to_internal_value(self, data: Any) -> Any:
        if data is None:
            return None
        if not isinstance(data, str):
            raise ValidationError([f"must be a YYYY-MM-DD date or null, got {type_name(data)}"])
        try:
            return parse_date(data)
        except ValueError as exc:
            raise ValidationError([str(exc)]) from None


class AdjustmentSerializer(_DocumentObject):
    kind = Choice(AdjustmentKind.values)
    percent = DecimalText(limit=Decimal(10) ** 5, positive=True, allow_null=True, default=None)
    amount = DecimalText(limit=Decimal(10) ** 10, positive=True, allow_null=True, default=None)
    services = Anything(default=list)
    start_date = DateText(default=None)
    end_date = DateText(default=None)
    description = Text(max_length=255, default="")
    position = WholeNumber(low=0, high=2_147_483_647, default=0)
    is_active = Boolean(default=True)

    def validate_services(self, services: Any) -> list[str]:
        if not isinstance(services, list) or not all(isinstance(name, str) for name in services):
            raise ValidationError(["must be an array of service names"])
        return services

    def validate(self, attrs: dict[str, Any]) -> AdjustmentPlan:
        data = AdjustmentData(
            adjustment_id=0,
            kind=attrs["kind"],
            percent=attrs["percent"],
            amount=attrs["amount"],
            start_date=attrs["start_date"],
            end_date=attrs["end_date"],
        )
        try:
            validate_adjustment(data, path_of(self))
        except RuleValidationError as exc:
            raise ValidationError([exc.reason]) from None
        return AdjustmentPlan(
            kind=attrs["kind"],
            percent=attrs["percent"],
            amount=attrs["amount"],
            services=attrs["services"],
            start_date=attrs["start_date"],
            end_date=attrs["end_date"],
            description=attrs["description"],
            position=attrs["position"],
            is_active=attrs["is_active"],
        )


class ProductSerializer(_DocumentObject):
    sku = Text(max_length=100, blank=False)
    description = Text(max_length=255, default="")
    case_size = WholeNumber(low=1, high=_MAX_CASE_SIZE, default=1)

    def validate_sku(self, raw: str) -> str:
        scope = self.state.customer
        key = normalize_sku(raw)
        if not key:
            raise ValidationError([f"is not a valid SKU: {raw!r}"])
        if key in scope.product_paths:
            raise ValidationError([f"duplicate SKU {raw!r} (the same SKU as {scope.product_paths[key]})"])
        scope.product_paths[key] = path_of(self)
        scope.skus.add(key)
        return raw.strip()

    def validate(self, attrs: dict[str, Any]) -> tuple[str, str, int]:
        return attrs["sku"], attrs["description"], attrs["case_size"]


class CustomerSerializer(_DocumentObject):
    id = Integer(required=False)
    company_name = Text(max_length=255, blank=False)
    legal_business_name = Text(max_length=255, required=False)
    email = Email(required=False)
    phone = Text(max_length=50, required=False)
    billing_address = Text(max_length=1000, required=False)
    is_active = Boolean(required=False)
    currency = Currency(required=False)
    products = ProductSerializer(many=True, required=False, default=list)
    rate_card = LineSerializer(many=True, required=False, default=list)
    adjustments = AdjustmentSerializer(many=True, required=False, default=None, allow_null=True)

    def to_internal_value(self, data: Any) -> Any:
        # Which customer comes first: its stored products are SKUs its lines may assign.
        scope = self.state.customer = _CustomerScope()
        if isinstance(data, Mapping):
            self._resolve(data, scope)
            self.state.customers.append(scope)
        return super().to_internal_value(data)

    def _checked(self, name: str, data: Mapping[str, Any]) -> Any:
        """The field's value when it is valid, else None (its errors are reported with the others)."""
        field = self.fields[name]
        try:
            return field.run_validation(field.get_value(data))
        except (ValidationError, SkipField):
            return None

    def _resolve(self, data: Mapping[str, Any], scope: _CustomerScope) -> None:
        """By id when given (created with that id when none has it), else by company name."""
        path, state = path_of(self), self.state
        company_name = self._checked("company_name", data)
        if "id" in data:
            pk = self._checked("id", data)
            if pk is not None:
                scope.existing = Customer.objects.filter(pk=pk).first()
                if scope.existing is None and not 1 <= pk <= MAX_ID:
                    state.add(f"{path}.id", f"must be between 1 and {MAX_ID}, got {pk}")
                elif scope.existing is None and company_name is not None:
                    scope.new_id = pk
        elif company_name is not None:
            matches = list(Customer.objects.filter(company_name=company_name)[:2])
            if len(matches) > 1:
                state.add(f"{path}.company_name", f"several customers are named {company_name!r}: give an id")
            elif matches:
                scope.existing = matches[0]
        key: int | str = ""
        if scope.existing is not None:
            key = scope.existing.pk
            scope.skus = set(Product.objects.filter(customer=scope.existing).values_list("sku_key", flat=True))
        elif scope.new_id is not None:
            key = scope.new_id
        elif "id" not in data and company_name is not None:
            key = f"new:{company_name}"
        if key in state.resolved:
            state.add(path, f"describes the same customer as {state.resolved[key]}")
        elif key:
            state.resolved[key] = path

    def validate(self, attrs: dict[str, Any]) -> CustomerPlan:
        scope = self.state.customer
        own = {
            name: value for name, value in attrs.items() if name not in ("id", "products", "rate_card", "adjustments")
        }
        adjustments = attrs.get("adjustments")
        if adjustments is not None:
            self._check_adjustment_services(adjustments, attrs["rate_card"])
        return CustomerPlan(
            existing=scope.existing,
            fields=own,
            products=attrs["products"],
            lines=attrs["rate_card"],
            new_id=scope.new_id,
            adjustments=adjustments,
        )

    def _check_adjustment_services(self, adjustments: list[AdjustmentPlan], lines: list[LinePlan]) -> None:
        """An adjustment's services are lines of this customer: in the document or stored."""
        scope = self.state.customer
        known = {line.service for line in lines}
        if scope.existing is not None:
            known |= set(
                CustomerService.objects.filter(customer=scope.existing).values_list("service__name", flat=True)
            )
        errors: dict[Any, Any] = {
            index: [f"no rate-card line of this customer for service {name!r}"]
            for index, adjustment in enumerate(adjustments)
            for name in adjustment.services
            if name not in known
        }
        if errors:
            raise ValidationError({"adjustments": errors})  # type: ignore[dict-item]


class ServiceSerializer(_DocumentObject):
    name = Text(max_length=255, blank=False)
    description = Text(max_length=100_000, default="")
    charge_type = Choice(ChargeType.values)

    def validate_name(self, name: str) -> str:
        if name in self.state.service_paths:
            raise ValidationError([f"duplicate service {name!r} (also {self.state.service_paths[name]})"])
        return name

    def validate(self, attrs: dict[str, Any]) -> ServicePlan:
        plan = ServicePlan(attrs["name"], attrs["description"], attrs["charge_type"])
        path = path_of(self)
        self.state.service_paths[plan.name] = path
        self.state.charge_types[plan.name] = plan.charge_type
        self.state.services.append((path, plan))
        return plan


class DocumentSerializer(_DocumentObject):
    version = Exactly(FORMAT_VERSION)
    services = ServiceSerializer(many=True)
    customers = CustomerSerializer(many=True)


def _charge_type_errors(state: _DocumentState) -> None:
    """A service whose charge type changes must have every line using it described here (and so re-checked)."""
    for path, service in state.services:
        old = state.catalogue.get(service.name)
        if old is None or old == service.charge_type:
            continue
        described = {
            scope.existing.pk
            for scope in state.customers
            if scope.existing is not None and service.name in scope.described
        }
        others = (
            CustomerService.objects.filter(service__name=service.name)
            .exclude(customer_id__in=described)
            .values_list("customer__company_name", flat=True)
        )
        names = sorted(set(others))
        if names:
            state.add(
                f"{path}.charge_type",
                f"cannot change {service.name!r} from {old} to {service.charge_type}: it is on the rate card of "
                f"{', '.join(names)}, which this document does not describe",
            )


def rate_card_plan(document: Any) -> tuple[list[ServicePlan], list[CustomerPlan]]:
    """What importing `document` writes; ValidationFailed (details {path: [messages]}) listing every problem.

    Reads the database (the catalogue, the customers and products the document names); never writes.
    """
    errors: dict[str, list[str]] = {}
    too_deep = f"is nested too deeply (a rate-card document has at most {MAX_DEPTH} levels)"
    structure_errors(document, errors, max_depth=MAX_DEPTH, too_deep=too_deep)
    plan: dict[str, Any] = {}
    if not errors:
        catalogue = dict(Service.objects.values_list("name", "charge_type"))
        state = _DocumentState(catalogue=catalogue, charge_types=dict(catalogue))
        try:
            plan = DocumentSerializer(context={"state": state}).run_validation(document)
        except ValidationError as exc:
            flatten_errors(exc.detail, "", errors)
        _charge_type_errors(state)
        for path, messages in state.errors.items():
            errors.setdefault(path, []).extend(messages)
    if errors:
        count = sum(len(messages) for messages in errors.values())
        raise ValidationFailed(
            f"The rate card document has {count} error{'' if count == 1 else 's'}; nothing was imported.",
            fields=errors,
        )
    return plan["services"], plan["customers"]
