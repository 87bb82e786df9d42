"""The claim's pairs: collected while the orders are priced, copied in the primary key's order."""

from decimal import Decimal
from types import SimpleNamespace

import pytest

from billing.generation.claims import ClaimedPairs
from billing.selectors.rate_cards import load_rate_card

pytestmark = pytest.mark.django_db


def test_claimed_pairs_are_the_charges_in_order_id_order(card):
    """The pairs the claim copies: one row per charge, orders without charges left out, by order id
    whatever order the orders were priced in, and every priced order handed on unchanged."""
    customer = card["fee"].customer
    line_info = load_rate_card(customer_id=customer.pk).line_info
    fee, pick = card["fee"], card["pick"]

    def priced(order_id, *lines):
        record = SimpleNamespace(order_id=order_id)
        # a ChargeRow starts with its rate-card line
        return record, [(line.pk,) for line in lines], Decimal("0")

    stream = [priced(30, fee, pick), priced(10, pick), priced(20), priced(5, fee)]
    pairs = ClaimedPairs(line_info)

    assert list(pairs.collect(stream)) == stream
    rows = [row.split("\t") for row in "".join(pairs.copy_blocks()).splitlines()]
    fee_id, pick_id = str(fee.service_id), str(pick.service_id)
    assert rows == [["5", fee_id], ["10", pick_id], ["30", fee_id], ["30", pick_id]]
