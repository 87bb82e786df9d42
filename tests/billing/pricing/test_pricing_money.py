"""Money rounding: cents half-up, prices at 4 places, no floats, independent of the thread's decimal context."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal, localcontext

import pytest

from billing.pricing import PricingError, quantize_price, round_money

D = Decimal


@pytest.mark.parametrize(
    ("amount", "rounded"),
    [
        ("0.005", "0.01"),
        ("0.0049999", "0.00"),
        ("2.675", "2.68"),
        ("2.665", "2.67"),
        ("1.004", "1.00"),
        ("-0.005", "-0.01"),
        ("10", "10.00"),
        ("123456789012.345", "123456789012.35"),
    ],
)
def test_round_money_half_up(amount, rounded):
    result = round_money(D(amount))
    assert result == D(rounded)
    assert result.as_tuple().exponent == -2


def test_round_money_accepts_ints():
    assert str(round_money(3)) == "3.00"


@pytest.mark.parametrize(("price", "quantized"), [("0.12345", "0.1235"), ("1.5", "1.5000"), ("0.00004", "0.0000")])
def test_quantize_price(price, quantized):
    assert str(quantize_price(D(price))) == quantized


@pytest.mark.parametrize("bad", [2.675, D("NaN"), D("Infinity"), "2.675", None, True])
def test_money_refuses_floats_and_non_finite(bad):
    with pytest.raises(PricingError):
        round_money(bad)
    with pytest.raises(PricingError):
        quantize_price(bad)


def test_thread_context_does_not_change_results():
    with localcontext() as ctx:
        ctx.prec = 3
        ctx.rounding = ROUND_DOWN
        assert round_money(D("1234.565")) == D("1234.57")
        assert quantize_price(D("98765.43215")) == D("98765.4322")
