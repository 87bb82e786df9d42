from decimal import Decimal

from billing.pricing import RateLineData, RuleData, RuleGroupData, TierData


def test_build_takes_plain_values_and_normalises_skus():
    group = RuleGroupData(logic="AND", rules=(RuleData(field="carrier", operator="eq", value="UPS"),))

    line = RateLineData.build(
        service_name="Pick",
        charge_type="per_unit",
        unit_price=Decimal("0.25"),
        skus=["ab-1", " CD 2 "],
        rule_groups=[group],
    )

    assert line == RateLineData(
        customer_service_id=0,
        service_id=0,
        service_name="Pick",
        charge_type="per_unit",
        unit_price=Decimal("0.25"),
        skus=frozenset({"AB1", "CD2"}),
        rule_groups=(group,),
    )


def test_build_keeps_the_tiers_order_unless_asked_to_put_the_open_band_last():
    tiers = [(None, Decimal("1")), (Decimal("100"), Decimal("2")), (Decimal("10"), Decimal("3"))]

    as_given = RateLineData.build(service_name="T", charge_type="tiered", unit_price=Decimal(0), tiers=tiers)
    ordered = RateLineData.build(
        service_name="T", charge_type="tiered", unit_price=Decimal(0), tiers=tiers, open_band_last=True
    )

    assert [tier.up_to for tier in as_given.tiers] == [None, Decimal("100"), Decimal("10")]
    assert ordered.tiers == (
        TierData(up_to=Decimal("10"), unit_price=Decimal("3")),
        TierData(up_to=Decimal("100"), unit_price=Decimal("2")),
        TierData(up_to=None, unit_price=Decimal("1")),
    )
