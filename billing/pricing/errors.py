"""Errors raised by the pricing engine."""

from __future__ import annotations


class PricingError(Exception):
    """Anything the engine cannot price exactly: bad data, an impossible quantity, a broken rate card.

    The engine never turns such a problem into a silent "rule is false" or "amount is 0".
    """


class RuleValidationError(PricingError, ValueError):
    """A rule, rule group or rate-card line that cannot be saved, imported or priced.

    `label` names the offending item (e.g. "rate_card[2].rule_groups[0].rules[1]") and
    `reason` is the message without that prefix.
    """

    def __init__(self, message: str, *, label: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.label = label
        self.reason = reason or message
