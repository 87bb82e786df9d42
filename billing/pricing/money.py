"""Decimal arithmetic for money: cents rounded half-up, prices at 4 decimal places.

The functions use their own decimal contexts, so the caller's thread context (precision,
rounding) never changes a result. Floats are refused everywhere.
"""

from __future__ import annotations

from decimal import (
    ROUND_HALF_UP,
    Clamped,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    Rounded,
    Underflow,
)

from .errors import PricingError

__all__ = [
    "CENT",
    "EXACT",
    "PRICE_PLACES",
    "ROUNDING",
    "ZERO",
    "as_decimal",
    "quantize_price",
    "round_money",
]

ZERO = Decimal(0)
CENT = Decimal("0.01")
PRICE_PLACES = Decimal("0.0001")

# Exact arithmetic (sums and products of prices and quantities): any rounding is an error.
EXACT = Context(
    prec=80,
    rounding=ROUND_HALF_UP,
    traps=[InvalidOperation, DivisionByZero, Overflow, Underflow, Inexact, Rounded, Clamped],
)
# Rounding arithmetic (quantize to cents or to 4 dp, effective prices): rounding is expected.
ROUNDING = Context(prec=80, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Overflow])


def as_decimal(value: object, what: str = "value") -> Decimal:
    """`value` as a finite Decimal (ints are converted exactly); anything else raises PricingError."""
    if type(value) is Decimal:
        if not value.is_finite():
            raise PricingError(f"{what} must be a finite number, got {value}")
        return value
    if isinstance(value, Decimal):  # a subclass
        return as_decimal(Decimal(value), what)
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    raise PricingError(f"{what} must be a Decimal or an int, got {type(value).__name__} {value!r}")


def round_money(amount: Decimal) -> Decimal:
    """Round to the cent, ROUND_HALF_UP: 0.005 -> 0.01, 2.675 -> 2.68, -0.005 -> -0.01."""
    return as_decimal(amount, "amount").quantize(CENT, rounding=ROUND_HALF_UP, context=ROUNDING)


def quantize_price(price: Decimal) -> Decimal:
    """A unit price at 4 decimal places, ROUND_HALF_UP."""
    return as_decimal(price, "price").quantize(PRICE_PLACES, rounding=ROUND_HALF_UP, context=ROUNDING)
