"""billing.jsonencoding: JSON text with Decimal digits written verbatim."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.jsonencoding import dumps


def test_dumps_writes_decimals_verbatim():
    assert (
        dumps({"a": Decimal("1500.00"), "b": [Decimal("0.10"), Decimal("-2.5"), 3]})
        == '{"a":1500.00,"b":[0.10,-2.5,3]}'
    )
    assert dumps({"text": 'quote " and \\ and \n and é and \u2028'}) == json.dumps(
        {"text": 'quote " and \\ and \n and é and \u2028'}, ensure_ascii=False, separators=(",", ":")
    )
    assert dumps([None, True, False, (1, 2), dt.date(2025, 1, 2)]) == '[null,true,false,[1,2],"2025-01-02"]'
    with pytest.raises(ValueError, match="not a JSON number"):
        dumps(Decimal("NaN"))
    with pytest.raises(TypeError):
        dumps(object())


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**12), max_value=10**12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_dumps_round_trips_through_the_json_module(value):
    assert json.loads(dumps(value), parse_float=Decimal) == value
