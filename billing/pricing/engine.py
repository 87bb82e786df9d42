"""Compile a rate card once, then price orders with it.

    run = compile_rate_card(card)          # validates and precompiles every rule and line
    for order in orders_in_canonical_sequence:
        charges = run.price_order(order)

Tiered lines are graduated over the whole period by default (tier scope "period"), like
graduated charges in usage billing: the run remembers, per tiered line, the quantity earlier
orders consumed, so an order's price depends on the orders priced before it. A tiered line
of scope "order" restarts its bands for each order ("first unit 2.50, each additional unit
0.50") and keeps no state. The canonical sequence is
`canonical_order_key`: close_date ascending with orders without a close_date first, then
transaction_id (compared by code point, i.e. `ORDER BY close_date NULLS FIRST,
transaction_id COLLATE "C", id` in SQL), then order_id. `price_orders` sorts into that
sequence itself; a caller streaming orders into `PricingRun.price_order` must feed them in
that sequence, with one run per (customer, period).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

from .charges import (
    ACTIVITY_CHARGE_TYPES,
    CHARGE_TYPES,
    DEFAULT_TIER_BASIS,
    DEFAULT_TIER_SCOPE,
    PICK_CHARGE_TYPES,
    SKU_RESTRICTABLE,
    STORAGE_BASES,
    STORAGE_PERIODS,
    TIER_BASES,
    TIER_SCOPES,
    TIERED,
    Band,
    QuantityFunction,
    SkusFunction,
    graduated_bands,
    quantity_function,
    skus_function,
    tier_bands,
)
from .errors import PricingError, RuleValidationError
from .explain import line_payload
from .fields import ACTIVITY_FIELD_KINDS, FIELD_KINDS, ORDER_DECIMAL_FIELDS, ORDER_INT_FIELDS, normalize_sku
from .money import CENT, EXACT, PRICE_PLACES, ROUNDING, quantize_price
from .rules import Predicate, compile_group, compile_groups
from .types import Charge, ChargeRow, OrderData, OrderFields, RateCard, RateLineData

__all__ = [
    "PricingRun",
    "canonical_order_key",
    "compile_rate_card",
    "price_orders",
    "validate_rate_line",
]

_SKU_CACHE_LIMIT = 200_000
# Integer quantities below this are charged from per-line tables, filled on first use: the
# Decimal of the quantity and the rounded amount of quantity x unit price (most quantities are
# small counts, repeated from order to order, and a large report prices half a million lines).
_SMALL_QUANTITIES = 1024
_SMALL_DECIMALS = tuple(Decimal(n) for n in range(_SMALL_QUANTITIES))
# Explanation keys are stored as a small integer (ReportLine.explanation).
MAX_EXPLANATIONS = 32_767
ZERO = Decimal(0)


def _line_error(label: str, reason: str) -> RuleValidationError:
    return RuleValidationError(f"Rate-card line '{label}': {reason}", label=label, reason=reason)


def _price(value: object, label: str, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise _line_error(label, f"{what} must be a Decimal, got {type(value).__name__} {value!r}")
    number = Decimal(value)
    if not number.is_finite():
        raise _line_error(label, f"{what} must be a finite number, got {value}")
    if number < 0:
        raise _line_error(label, f"{what} must be >= 0, got {value}")
    return quantize_price(number)


def _tiers(line: RateLineData, label: str) -> list[tuple[Decimal | None, Decimal]]:
    if not line.tiers:
        raise _line_error(label, "a tiered line needs at least one tier")
    tiers: list[tuple[Decimal | None, Decimal]] = []
    previous: Decimal | None = None
    last = len(line.tiers) - 1
    for index, tier in enumerate(line.tiers):
        where = f"tier {index + 1}"
        up_to = getattr(tier, "up_to", None)
        price = _price(getattr(tier, "unit_price", None), label, f"{where} unit price")
        if up_to is None:
            if index != last:
                raise _line_error(label, f"{where} has no upper bound but is not the last tier")
            tiers.append((None, price))
            continue
        if isinstance(up_to, bool) or not isinstance(up_to, Decimal | int):
            raise _line_error(label, f"{where} upper bound must be a Decimal, got {type(up_to).__name__} {up_to!r}")
        bound = Decimal(up_to)
        if not bound.is_finite() or bound <= 0:
            raise _line_error(label, f"{where} upper bound must be a finite number > 0, got {up_to}")
        if previous is not None and bound <= previous:
            raise _line_error(label, f"tier upper bounds must strictly increase: {where} has {bound} after {previous}")
        if index == last:
            raise _line_error(label, f"the last tier ({where}) must have no upper bound, so every quantity has a price")
        tiers.append((bound, price))
        previous = bound
    return tiers


def _assigned_skus(line: RateLineData, label: str) -> frozenset[str]:
    skus = set()
    for sku in line.skus:
        normalised = normalize_sku(sku) if isinstance(sku, str) else ""
        if not normalised:
            raise _line_error(label, f"assigned SKU {sku!r} is not a valid SKU")
        skus.add(normalised)
    return frozenset(skus)


def _check_line(line: RateLineData, label: str) -> tuple[str, Decimal, list[tuple[Decimal | None, Decimal]]]:
    """Everything but the rules; returns (model whose quantity is charged, unit price at 4 dp, tiers)."""
    if not isinstance(line, RateLineData):
        raise _line_error(label, f"expected RateLineData, got {type(line).__name__}")
    charge_type = line.charge_type
    if not isinstance(charge_type, str) or charge_type not in CHARGE_TYPES:
        raise _line_error(label, f"unknown charge type {charge_type!r} (use one of: {', '.join(CHARGE_TYPES)})")
    price = _price(line.unit_price, label, "unit price")
    tiers: list[tuple[Decimal | None, Decimal]] = []
    basis = ""
    if charge_type == TIERED:
        basis = line.tier_basis or DEFAULT_TIER_BASIS
        if basis not in TIER_BASES:
            raise _line_error(
                label,
                f"tier basis {line.tier_basis!r} is not valid (use one of: {', '.join(TIER_BASES)}; "
                f"empty means {DEFAULT_TIER_BASIS})",
            )
        tiers = _tiers(line, label)
        if line.tier_scope not in TIER_SCOPES:
            raise _line_error(
                label, f"tier scope {line.tier_scope!r} is not valid (use one of: {', '.join(TIER_SCOPES)})"
            )
    else:
        if line.tier_basis:
            raise _line_error(label, f"tier basis {line.tier_basis!r} is only used by tiered lines")
        if line.tier_scope != DEFAULT_TIER_SCOPE:
            raise _line_error(label, f"tier scope {line.tier_scope!r} is only used by tiered lines")
        if line.tiers:
            raise _line_error(label, f"tiers are only used by tiered lines, this line is {charge_type!r}")
    _check_storage(line, label)
    model = basis or charge_type
    skus = _assigned_skus(line, label)
    if skus and model not in SKU_RESTRICTABLE:
        raise _line_error(
            label,
            f"assigned SKUs do not apply to {model!r} charges (only to {', '.join(sorted(SKU_RESTRICTABLE))}, "
            "or tiered over one of them); use a rule 'sku contains ...' to restrict when the line applies",
        )
    return model, price, tiers


def _check_storage(line: RateLineData, label: str) -> None:
    """A storage line's period and basis are known ("" = the default); other lines have none."""
    if ACTIVITY_CHARGE_TYPES.get(line.charge_type) == "storage":
        if line.storage_period and line.storage_period not in STORAGE_PERIODS:
            raise _line_error(
                label,
                f"storage period {line.storage_period!r} is not valid (use one of: {', '.join(STORAGE_PERIODS)})",
            )
        if line.storage_basis and line.storage_basis not in STORAGE_BASES:
            raise _line_error(
                label, f"storage basis {line.storage_basis!r} is not valid (use one of: {', '.join(STORAGE_BASES)})"
            )
        return
    if line.storage_period or line.storage_basis:
        raise _line_error(label, "a storage period and basis are only used by storage lines")


def _compile_line_groups(line: RateLineData, label: str):
    activity = ACTIVITY_CHARGE_TYPES.get(line.charge_type)
    return compile_groups(line.rule_groups, label, ACTIVITY_FIELD_KINDS[activity] if activity else FIELD_KINDS)


def validate_rate_line(line: RateLineData, label: str) -> None:
    """Raise RuleValidationError, naming `label` (or the rule's own label), if the line cannot be priced.

    Checks: known charge type; unit price and tier prices finite and >= 0; a tiered line has
    at least one tier, upper bounds > 0 and strictly increasing, only the last without a
    bound, a tier basis among TIER_BASES (empty = per_unit) and a tier scope among TIER_SCOPES;
    tiers, tier basis and the "order" scope only on tiered lines; assigned SKUs only on
    per_unit, per_sku, case_pick, each_pick (or tiered over per_unit / per_sku); a storage period
    and basis only on storage lines, and known ones; every rule group and rule, against the
    fields of what the line prices (an order, or an activity: fields.ACTIVITY_FIELD_KINDS).
    """
    _check_line(line, label)
    _compile_line_groups(line, label)


# --- compiled run -------------------------------------------------------------------------


def _case_sizes(card: RateCard) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for sku, size in card.case_sizes.items():
        normalised = normalize_sku(sku) if isinstance(sku, str) else ""
        if not normalised:
            raise RuleValidationError(f"Rate card: case size given for an invalid SKU {sku!r}", label="case_sizes")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise RuleValidationError(
                f"Rate card: case size of SKU {sku!r} must be an integer >= 1, got {size!r}", label="case_sizes"
            )
        if sizes.get(normalised, size) != size:
            raise RuleValidationError(
                f"Rate card: SKU {normalised!r} has two case sizes ({sizes[normalised]} and {size})",
                label="case_sizes",
            )
        sizes[normalised] = size
    return sizes


def _check_order_attributes(
    order: OrderFields, decimals: tuple[str, ...], ints: tuple[str, ...], texts: tuple[str, ...]
):
    for name in decimals:
        value = getattr(order, name)
        if type(value) is not Decimal or not value.is_finite() or value < 0:
            raise PricingError(f"{name} must be a finite Decimal >= 0, got {type(value).__name__} {value!r}")
    for name in ints:
        value = getattr(order, name)
        if type(value) is not int or value < 0:
            raise PricingError(f"{name} must be an int >= 0, got {type(value).__name__} {value!r}")
    for name in texts:
        value = getattr(order, name)
        if not isinstance(value, str):
            raise PricingError(f"{name} must be text, got {type(value).__name__} {value!r}")


class PricingRun:
    """A compiled rate card plus the period state of its tiered lines. Build with compile_rate_card.

    `explanations` maps each explanation key a Charge may carry to its payload
    (billing.pricing.explain.line_payload); `explanation_lines` maps it to the rate-card line's
    customer_service_id. Not thread-safe: one run prices one (customer, period) sequence of orders.
    """

    __slots__ = ("_attrs", "_consumed", "_lines", "_sku_cache", "card", "explanation_lines", "explanations")

    def __init__(
        self,
        card: RateCard,
        lines: list[tuple],
        attrs: tuple[tuple[str, ...], ...],
        tiered: int,
        explanations: dict[int, tuple[int, dict]],
    ) -> None:
        self.card = card
        self._lines = tuple(lines)
        self._attrs = attrs
        self._consumed: list[Decimal] = [Decimal(0)] * tiered
        self._sku_cache: dict[str, str] = {}
        self.explanations = {key: payload for key, (_, payload) in explanations.items()}
        self.explanation_lines = {key: cs_id for key, (cs_id, _) in explanations.items()}

    def reset(self) -> None:
        """Forget the quantities consumed by tiered lines (start a new period)."""
        self._consumed = [Decimal(0)] * len(self._consumed)

    @property
    def tier_consumed(self) -> dict[int, Decimal]:
        """Per tiered line graduated over the period (rate-card index): the quantity consumed so far."""
        return {spec[-1]: self._consumed[spec[-2]] for spec in self._lines if spec[-2] is not None}

    def _normalize(self, sku: object) -> str:
        if not isinstance(sku, str):
            raise PricingError(f"order line SKU must be text, got {type(sku).__name__} {sku!r}")
        normalised = normalize_sku(sku)
        if not normalised:
            raise PricingError(f"order line SKU {sku!r} is empty once normalised")
        if len(self._sku_cache) >= _SKU_CACHE_LIMIT:
            self._sku_cache.clear()
        self._sku_cache[sku] = normalised
        return normalised

    def price_order(self, order: OrderFields) -> list[Charge]:
        """The charges of `order`, in rate-card order; lines that do not apply or have quantity 0 give none.

        Advances the period state of tiered lines (only if the whole order prices without error).
        """
        order_id = order.order_id
        return [
            Charge(order_id, cs_id, *line, quantity, unit_price, amount, key, detail)
            for cs_id, quantity, unit_price, amount, key, detail, line in self.price_rows(order)
        ]

    def price_rows(self, order: OrderFields) -> list[ChargeRow]:
        """price_order's charges as plain tuples (ChargeRow), without the order id: what report
        generation reads, half a million times for a large report, where building a Charge (a
        frozen dataclass) would cost more than pricing it."""
        try:
            return self._price(order)
        except (PricingError, TypeError, AttributeError, ValueError, ArithmeticError, KeyError, IndexError) as exc:
            tid = getattr(order, "transaction_id", "?")
            oid = getattr(order, "order_id", "?")
            raise PricingError(f"Cannot price order {tid!r} (id {oid}): {exc}") from exc

    def _price(self, order: OrderFields) -> list[ChargeRow]:
        decimals, ints, texts = self._attrs
        if decimals or ints or texts:
            _check_order_attributes(order, decimals, ints, texts)
        units: dict[str, int] = {}
        lines = order.lines
        cache = self._sku_cache
        if lines:
            for line in lines:
                line_qty = line.quantity
                if type(line_qty) is not int or line_qty < 0:
                    raise PricingError(f"line {line.sku!r}: quantity must be an int >= 0, got {line_qty!r}")
                if line_qty:
                    sku = cache.get(line.sku) or self._normalize(line.sku)
                    units[sku] = units.get(sku, 0) + line_qty
            total = sum(units.values())
        else:
            total = order.total_item_qty
            if type(total) is not int or total < 0:
                raise PricingError(f"total_item_qty must be an int >= 0, got {total!r}")

        charges: list[ChargeRow] = []
        pending = None
        counted_by = counted = None
        for (
            applies,
            which,
            quantity,
            skus_of,
            price,
            amounts,
            cs_id,
            line_ident,
            bands,
            key,
            tier,
            _,
        ) in self._lines:
            if applies is not None and not applies(order, units):
                continue
            qty = quantity(order, units, total)
            if not qty:
                continue
            small = None
            if type(qty) is int:
                if 0 < qty < _SMALL_QUANTITIES:
                    small, qty = qty, _SMALL_DECIMALS[qty]
                else:
                    qty = Decimal(qty)
            if which is not None:
                key = which(order, units)
            if skus_of is None:
                detail = None
            else:
                if skus_of is not counted_by:
                    # Lines that count the same SKUs (case and each pick) share one detail per order.
                    counted_by, counted = skus_of, {"skus": skus_of(order, units, cache)}
                detail = counted
            if not bands:
                if small is None:
                    amount = EXACT.multiply(qty, price).quantize(CENT, ROUND_HALF_UP, ROUNDING)
                else:
                    amount = amounts[small]
                    if amount is None:
                        amount = amounts[small] = EXACT.multiply(qty, price).quantize(CENT, ROUND_HALF_UP, ROUNDING)
                charges.append((cs_id, qty, price, amount, key, detail, line_ident))
                continue
            start = ZERO if tier is None else self._consumed[tier]
            cost, touched = graduated_bands(bands, start, qty)
            amount = cost.quantize(CENT, ROUND_HALF_UP, ROUNDING)
            effective = ROUNDING.divide(amount, qty).quantize(PRICE_PLACES, ROUND_HALF_UP, ROUNDING)
            # a new dict: a SKU detail may be shared with another line of the order
            detail = {"bands": touched} if detail is None else {**detail, "bands": touched}
            charges.append((cs_id, qty, effective, amount, key, detail, line_ident))
            if tier is not None:
                if pending is None:
                    pending = []
                pending.append((tier, EXACT.add(start, qty)))
        if pending is not None:
            for tier, consumed in pending:
                self._consumed[tier] = consumed
        return charges


def _shared(
    made: dict[tuple, SkusFunction | None],
    model: str,
    skus: frozenset[str],
    sizes: dict[str, int],
    excluded: frozenset[str],
) -> SkusFunction | None:
    """skus_function for a line, one function for the lines whose SKU detail is the same (the
    pick models count the same SKUs of an order; per_unit and per_sku the same assigned SKUs)."""
    picks = model in PICK_CHARGE_TYPES
    key = (picks, skus, excluded if picks else frozenset())
    if key not in made:
        made[key] = skus_function(model, skus=skus, case_sizes=sizes, excluded_skus=excluded)
    return made[key]


def _first_true_group(groups: list[tuple[Predicate, int]]):
    """For a line with several rule groups: the explanation key of the first group that is true."""

    def which(order: OrderFields, units: dict[str, int]) -> int:
        for pred, key in groups:
            if pred(order, units):
                return key
        raise PricingError("no rule group is true although the line applies")  # pragma: no cover

    return which


def compile_rate_card(card: RateCard) -> PricingRun:
    """Validate `card` and compile every rule and line once; raises RuleValidationError on invalid data.

    Lines are labelled "rate_card[i]" in messages; rules without a label of their own are
    named "rate_card[i].rule_groups[g].rules[r]". Each (line, rule group) gets an explanation
    key (1, 2, ...; one for a line without groups); a line with several groups is explained by
    the first of them that is true.
    """
    if not isinstance(card, RateCard):
        raise RuleValidationError(f"expected RateCard, got {type(card).__name__}")
    sizes = _case_sizes(card)
    per_unit_skus = set()
    for sku in card.per_unit_skus:
        normalised = normalize_sku(sku) if isinstance(sku, str) else ""
        if not normalised:
            raise RuleValidationError(f"Rate card: per_unit SKU {sku!r} is not a valid SKU", label="per_unit_skus")
        per_unit_skus.add(normalised)
    excluded = frozenset(per_unit_skus)
    decimals: set[str] = set()
    ints: set[str] = set()
    texts: set[str] = set()
    compiled = []
    explanations: dict[int, tuple[int, dict]] = {}
    skus_functions: dict[tuple, SkusFunction | None] = {}
    tiered = 0
    for index, line in enumerate(card.lines):
        label = f"rate_card[{index}]"
        model, price, tiers = _check_line(line, label)
        if line.charge_type in ACTIVITY_CHARGE_TYPES:
            # Priced from the activity (billing.pricing.activity), never from an order: checked only.
            _compile_line_groups(line, label)
            continue
        applies, attrs = _compile_line_groups(line, label)
        skus = _assigned_skus(line, label)
        quantity: QuantityFunction
        quantity, attr = quantity_function(model, skus=skus, case_sizes=sizes, excluded_skus=excluded)
        skus_of = _shared(skus_functions, model, skus, sizes, excluded)
        if attr:
            attrs.add(attr)
        for a in attrs:
            if a in ORDER_DECIMAL_FIELDS:
                decimals.add(a)
            elif a in ORDER_INT_FIELDS:
                ints.add(a)
            else:
                texts.add(a)
        bands: tuple[Band, ...] = ()
        tier = None
        scope = ""
        if line.charge_type == TIERED:
            bands = tier_bands(tiers)
            scope = line.tier_scope
            if scope == DEFAULT_TIER_SCOPE:
                tier = tiered
                tiered += 1
        keys = []
        for group in range(len(line.rule_groups)) or [None]:
            key = len(explanations) + 1
            if key > MAX_EXPLANATIONS:
                raise RuleValidationError(
                    f"Rate card: more than {MAX_EXPLANATIONS} rate-card lines and rule groups", label=label
                )
            payload = line_payload(
                line, charge_type=line.charge_type, unit_price=price, tiers=tiers, basis=model, scope=scope, group=group
            )
            explanations[key] = (line.customer_service_id, payload)
            keys.append(key)
        which = None
        if len(keys) > 1:
            group_label = f"{label}.rule_groups"
            which = _first_true_group(
                [
                    (compile_group(group, f"{group_label}[{g}]")[0], key)
                    for g, (group, key) in enumerate(zip(line.rule_groups, keys, strict=True))
                ]
            )
        spec = (
            applies,
            which,
            quantity,
            skus_of,
            price,
            [None] * _SMALL_QUANTITIES,  # the amounts of small integer quantities, filled as they occur
            line.customer_service_id,
            (line.service_id, line.service_name, line.charge_type),
            bands,
            keys[0],
            tier,
            index,
        )
        compiled.append(spec)
    attrs_by_kind = (tuple(sorted(decimals)), tuple(sorted(ints)), tuple(sorted(texts)))
    return PricingRun(card, compiled, attrs_by_kind, tiered, explanations)


def canonical_order_key(order: OrderData) -> tuple:
    """Sort key of the canonical pricing sequence: no close_date first, then close_date, transaction_id, order_id."""
    close_date = order.close_date
    if close_date is None:
        return (0, 0, order.transaction_id, order.order_id)
    return (1, close_date, order.transaction_id, order.order_id)


def price_orders(card: RateCard, orders: Iterable[OrderData]) -> list[Charge]:
    """Price a period's orders in the canonical sequence (the reference result of a report)."""
    run = compile_rate_card(card)
    try:
        ordered = sorted(orders, key=canonical_order_key)
    except (TypeError, AttributeError) as exc:
        raise PricingError(f"cannot sort orders into the canonical sequence: {exc}") from exc
    charges: list[Charge] = []
    price = run.price_order
    for order in ordered:
        charges += price(order)
    return charges
