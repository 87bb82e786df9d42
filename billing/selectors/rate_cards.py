"""The rate card as generation prices it: a customer's active lines as pricing-engine data.

Read once per report in a fixed number of queries (billing.generation compiles it before the
first order is priced); report_request_validate reads it to check a line subset.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from billing.models import ChargeType, CustomerService, PriceTier, Product, Rule, RuleGroup
from billing.pricing import normalize_sku
from billing.pricing.types import RateCard, RateLineData, RuleData, RuleGroupData

__all__ = ["LineInfo", "LoadedRateCard", "load_rate_card"]

ZERO = Decimal("0")
_POSITIONAL_LABEL = re.compile(r"rate_card\[(\d+)\]")


@dataclass(frozen=True)
class LineInfo:
    """What the snapshot stores about a rate-card line."""

    service_id: int
    service_name: str
    charge_type: str


@dataclass
class LoadedRateCard:
    """A customer's active rate card as engine data, plus the snapshot facts of each line."""

    lines: tuple[RateLineData, ...]
    case_sizes: dict[str, int]
    per_unit_skus: frozenset[str]
    selected: tuple[RateLineData, ...] = ()
    line_info: dict[int, LineInfo] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.selected = self.lines
        self.line_info = {
            line.customer_service_id: LineInfo(line.service_id, line.service_name, line.charge_type)
            for line in self.lines
        }

    def select(self, customer_service_ids: Sequence[int]) -> str:
        """Restrict pricing to these lines; returns an error message, or "" when they are valid."""
        wanted = set(customer_service_ids)
        if not wanted:
            return "Select at least one rate-card line, or omit the field to use the whole rate card."
        unknown = sorted(wanted - self.line_info.keys())
        if unknown:
            ids = ", ".join(str(i) for i in unknown)
            return f"Not on the customer's active rate card: {ids}."
        self.selected = tuple(line for line in self.lines if line.customer_service_id in wanted)
        return ""

    def describe(self, message: str) -> str:
        """An engine message with its positional labels ("rate_card[2]") replaced by line names."""

        def name(match: re.Match[str]) -> str:
            index = int(match.group(1))
            if index >= len(self.selected):
                return match.group(0)
            line = self.selected[index]
            return f"{line.service_name} (rate-card line #{line.customer_service_id})"

        return _POSITIONAL_LABEL.sub(name, message)

    @property
    def rate_card(self) -> RateCard:
        # per_unit_skus always comes from the whole card: a unit charged per_unit is never picked.
        return RateCard(lines=self.selected, case_sizes=self.case_sizes, per_unit_skus=self.per_unit_skus)


def load_rate_card(*, customer_id: int) -> LoadedRateCard:
    """The customer's active rate-card lines with tiers, SKUs and rules, in six queries."""
    lines = list(
        CustomerService.objects.filter(customer_id=customer_id, is_active=True)
        .select_related("service")
        .order_by("service__name", "id")
        .values_list(
            "id",
            "service_id",
            "service__name",
            "service__charge_type",
            "unit_price",
            "tier_basis",
            "tier_scope",
            "storage_period",
            "storage_basis",
        )
    )
    line_ids = [row[0] for row in lines]
    tiers = _tiers_of(line_ids)
    skus = _skus_of(line_ids)
    rule_groups = _rule_groups_of({row[0]: row[2] for row in lines})
    case_sizes = {
        normalize_sku(sku): size
        for sku, size in Product.objects.filter(customer_id=customer_id).values_list("sku", "case_size")
    }

    data = []
    per_unit: set[str] = set()
    for cs_id, service_id, service_name, charge_type, unit_price, tier_basis, tier_scope, period, basis in lines:
        line = RateLineData.build(
            customer_service_id=cs_id,
            service_id=service_id,
            service_name=service_name,
            charge_type=charge_type,
            unit_price=unit_price,
            tier_basis=tier_basis,
            tier_scope=tier_scope,
            tiers=tiers.get(cs_id, ()),
            skus=skus.get(cs_id, ()),
            rule_groups=rule_groups.get(cs_id, ()),
            open_band_last=True,
            storage_period=period,
            storage_basis=basis,
        )
        if charge_type == ChargeType.PER_UNIT:
            per_unit |= line.skus
        data.append(line)
    return LoadedRateCard(lines=tuple(data), case_sizes=case_sizes, per_unit_skus=frozenset(per_unit))


def _tiers_of(line_ids: list[int]) -> dict[int, list[tuple[Decimal | None, Decimal]]]:
    """(up_to, unit_price) per line; RateLineData.build puts the open band last."""
    tiers: dict[int, list[tuple[Decimal | None, Decimal]]] = {}
    for cs_id, up_to, price in PriceTier.objects.filter(customer_service_id__in=line_ids).values_list(
        "customer_service_id", "up_to", "unit_price"
    ):
        tiers.setdefault(cs_id, []).append((up_to, price))
    return tiers


def _skus_of(line_ids: list[int]) -> dict[int, list[str]]:
    """The SKUs of each line as entered; RateLineData.build normalises them."""
    skus: dict[int, list[str]] = {}
    for cs_id, sku in CustomerService.skus.through.objects.filter(customerservice_id__in=line_ids).values_list(
        "customerservice_id", "product__sku"
    ):
        skus.setdefault(cs_id, []).append(sku)
    return skus


def _rule_groups_of(service_names: dict[int, str]) -> dict[int, tuple[RuleGroupData, ...]]:
    """Each line's rule groups in id order, their rules labelled with the line's service name."""
    groups: dict[int, list[int]] = {}
    group_logic: dict[int, str] = {}
    for group_id, cs_id, logic in (
        RuleGroup.objects.filter(customer_service_id__in=list(service_names))
        .order_by("customer_service_id", "id")
        .values_list("id", "customer_service_id", "logic_operator")
    ):
        groups.setdefault(cs_id, []).append(group_id)
        group_logic[group_id] = logic
    rules: dict[int, list[tuple[int, str, str, str]]] = {}
    for rule in (
        Rule.objects.filter(rule_group__customer_service_id__in=list(service_names))
        .order_by("rule_group_id", "id")
        .values_list("rule_group_id", "id", "field", "operator", "value")
    ):
        rules.setdefault(rule[0], []).append(rule[1:])
    return {
        cs_id: tuple(
            RuleGroupData(
                logic=group_logic[group_id],
                rules=tuple(
                    RuleData(field=f, operator=op, value=value, label=f"#{rule_id} ({service_names[cs_id]})")
                    for rule_id, f, op, value in rules.get(group_id, ())
                ),
            )
            for group_id in group_ids
        )
        for cs_id, group_ids in groups.items()
    }
