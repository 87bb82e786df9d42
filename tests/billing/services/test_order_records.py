"""A file's records parsed by one RecordParser per header agree with parse_row on every row.

RecordParser (the CSV import) takes a fast path for already-clean values and the full checks of
parse_row for anything else; these properties hold it to the full checks: the same order, the
same problems (in the same order) and the same customer for every record, valid or not, in any
column order, with columns left out or unknown ones added.
"""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.services.order_records import RecordParser
from billing.services.order_rows import ORDER_FIELDS, REQUIRED_FIELDS, ParsedOrder, RowInvalid, parse_row
from billing.services.order_writes import order_copy_body, values_from_copy_body, values_of

NAMES = [
    "Jane Roe",
    "",
    "  padded  ",
    "-",
    "----",
    "Ã©tÃ© mojibake",
    "Straße",
    "x" * 255,
    "y" * 256,
    "a\tb",
    "c\nd",
    "back\\slash \\N \\t",
    "e\r\nf",
]
BAD_TEXTS = ["nul\x00inside", "lone \udcff byte", "\ud800"]
NUMBERS = [
    "",
    " ",
    "0",
    "5",
    "5.0",
    "12.34",
    "0.0005",
    "1.",
    ".5",
    "1,234.5",
    " 2.5 ",
    "1e3",
    "1e30",
    "-1",
    "-0",
    "nan",
]
NUMBERS += ["inf", "999999999.999", "999999999.9995", "1000000000", "٣", "５", "2147483647", "2147483648", "x", "1_000"]
NUMBERS += ["0" * 30 + "7", "9" * 5000, "9" * 5000 + ".5"]
DATES = ["", " ", "2025-01-05 13:45:00+00", "2025-01-05T13:45:00Z", "2025-01-05 13:45:00", "2025-01-05"]
DATES += [
    "2025-01-05 13:45:00+05:30",
    " 2025-01-05 13:45:00+00 ",
    "01/02/2025 10:00",
    "2025/01/02",
    "soon",
    "2025-13-01",
]
SKUS = [
    "KIT-A1",
    "kit a1",
    " abc ",
    "001",
    "MISC INGREDIENTS 2024/01/29",
    "TestSKU",
    "",
    " ",
    "é-1",
    "n\x00ul",
    "z" * 101,
]
QUANTITIES: list[Any] = [0, 1, 5, 2147483647, 2147483648, -1, 5.0, 5.5, "3", "3.0", True, None, [1]]


def json_values() -> st.SearchStrategy[str]:
    sku = st.one_of(st.sampled_from(SKUS), st.sampled_from(SKUS), st.text(max_size=8), st.integers(0, 99))
    quantity = st.one_of(st.integers(0, 50), st.sampled_from(QUANTITIES))
    entry = st.fixed_dictionaries({"sku": sku, "quantity": quantity})
    odd_entry = st.one_of(
        st.fixed_dictionaries({"sku": st.sampled_from(SKUS)}),
        st.just([1, 2]),
        st.just("sku"),
        st.fixed_dictionaries({"sku": st.none(), "quantity": st.just(1)}),
    )
    lists = st.lists(st.one_of(entry, entry, entry, odd_entry), max_size=4).map(json.dumps)
    objects = st.dictionaries(st.sampled_from(SKUS), st.sampled_from(QUANTITIES), max_size=3).map(json.dumps)
    indented = st.lists(entry, max_size=3).map(lambda value: json.dumps(value, indent=2))
    broken = st.sampled_from(
        ["", " ", "[", "null", "5", '"text"', "[[[[]]]]", "{}", "[]", '[{"sku": "a", "quantity": 1}']
    )
    return st.one_of(lists, lists, objects, indented, broken)


def field_values(name: str) -> st.SearchStrategy[str]:
    if name == "transaction_id":
        return st.one_of(st.integers(0, 99_999_999).map(str), st.sampled_from(["", " T-1 ", "t" * 64, "t" * 65]))
    if name == "customer_id":
        return st.one_of(st.sampled_from(["7", "7", "0", "", " 7", "7.0", "-7", "abc", "١٢", "99999999999"]))
    if name == "close_date":
        return st.sampled_from(DATES)
    if name in ("weight_lb", "volume_cuft", "packages", "line_items", "total_item_qty"):
        return st.sampled_from(NUMBERS)
    if name == "sku_quantity":
        return json_values()
    clean = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12)
    return st.one_of(clean, clean, st.sampled_from(NAMES), st.sampled_from(BAD_TEXTS), st.text(max_size=6))


@st.composite
def headers(draw: st.DrawFn) -> list[str]:
    optional = [name for name in ORDER_FIELDS if name not in REQUIRED_FIELDS]
    kept = draw(st.one_of(st.just(optional), st.lists(st.sampled_from(optional), unique=True)))
    extra = draw(st.lists(st.sampled_from(["extra", "", "comment"]), unique=True, max_size=2))
    return draw(st.permutations([*REQUIRED_FIELDS, *kept, *extra]))


@st.composite
def files(draw: st.DrawFn, clean: bool = False) -> tuple[list[str], list[str]]:
    """A header and one record of it (every value text, as a CSV reader gives them): clean
    values, of which a few (or, sometimes, all) are drawn from every kind, valid or not."""
    columns = draw(headers())
    if clean:
        return columns, [draw(clean_values(name)) for name in columns]
    anything = draw(st.one_of(st.just(set(columns)), st.sets(st.sampled_from(columns), max_size=2)))
    return columns, [draw(field_values(name) if name in anything else clean_values(name)) for name in columns]


def clean_values(name: str) -> st.SearchStrategy[str]:
    """What an export nearly always holds: values the fast path takes."""
    if name == "transaction_id":
        return st.integers(2, 99_999_999).map(str)
    if name == "customer_id":
        return st.integers(1, 10_000).map(str)
    if name == "close_date":
        return st.sampled_from(["", "2025-01-05 13:45:00+00", "2025-07-31T23:59:59", "2025-01-05"])
    if name in ("weight_lb", "volume_cuft"):
        return st.one_of(st.just(""), st.decimals(min_value=0, max_value=99_999, places=3).map(str))
    if name in ("packages", "line_items", "total_item_qty"):
        return st.one_of(st.just(""), st.integers(0, 10_000).map(str))
    if name == "sku_quantity":
        entry = st.fixed_dictionaries({"sku": st.sampled_from(SKUS[:6]), "quantity": st.integers(0, 50)})
        return st.lists(entry, max_size=4).map(json.dumps)
    return st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20)


def outcome(parse: Any) -> tuple[Any, ...]:
    """What a parse gives, Decimals compared by their digits (5.0 and 5.000 differ here)."""
    try:
        parsed: ParsedOrder = parse()
    except RowInvalid as exc:
        return ("refused", exc.problems, exc.customer_id)
    values = {name: (type(value), str(value)) for name, value in parsed.values.items()}
    return ("parsed", parsed.row_number, parsed.transaction_id, parsed.customer_id, values, parsed.lines)


def full_checks(columns: list[str], record: list[str]) -> tuple[Any, ...]:
    row = {name: value for name, value in zip(columns, record, strict=True) if name in ORDER_FIELDS}
    return outcome(lambda: parse_row(row, row_number=9))


@given(files())
def test_a_record_parses_as_parse_row_parses_its_row(file: tuple[list[str], list[str]]) -> None:
    columns, record = file
    assert outcome(lambda: RecordParser(columns).parse(record, 9)) == full_checks(columns, record)


CLEAN = {
    **{name: "" for name in ORDER_FIELDS},
    "transaction_id": "1004",
    "customer_id": "7",
    "close_date": "2025-01-05 13:45:00+00",
    "weight_lb": "2.5",
    "sku_quantity": '[{"sku": "KIT-A1", "quantity": 2}]',
    "packages": "1",
}
EDGES: dict[str, list[str]] = {
    "transaction_id": ["", " T-1 ", "t" * 64, "t" * 65, *BAD_TEXTS, "２"],
    "customer_id": ["0", "", " 7", "7.0", "-7", "abc", "١٢", "2147483647", "2147483648", "0" * 30 + "7", "9" * 5000],
    "close_date": DATES,
    "sku_quantity": [
        *(json.dumps([{"sku": sku, "quantity": quantity}]) for sku in SKUS for quantity in QUANTITIES),
        *(json.dumps({sku: 1}) for sku in SKUS),
        json.dumps([{"sku": "a", "quantity": 2}, {"sku": "A", "quantity": 3}, {"sku": "b", "quantity": 0}]),
        '[{"sku": "a"}]',
        "[1]",
        *["", " ", "[", "null", "5", '"text"', "[[[[]]]]", "{}", "[]", '[{"sku": "a"}'],
    ],
    **{name: NUMBERS for name in ("weight_lb", "volume_cuft", "packages", "line_items", "total_item_qty")},
}


@pytest.mark.parametrize(
    ("name", "value"),
    [(name, value) for name in ORDER_FIELDS for value in EDGES.get(name, [*NAMES, *BAD_TEXTS, "t" * 65])],
)
def test_each_edge_value_in_an_otherwise_clean_record_parses_as_parse_row_parses_it(name: str, value: str) -> None:
    columns = list(ORDER_FIELDS)
    record = [value if column == name else CLEAN[column] for column in columns]
    assert outcome(lambda: RecordParser(columns).parse(record, 9)) == full_checks(columns, record)


@given(files())
def test_the_fast_path_only_accepts_what_the_full_checks_accept_and_reads_it_the_same(
    file: tuple[list[str], list[str]],
) -> None:
    columns, record = file
    parser = RecordParser(columns)
    fast = parser._fast(record if parser._complete else [*record, ""], 9)
    if fast is not None:
        assert outcome(lambda: fast) == full_checks(columns, record)


@given(files(clean=True))
def test_clean_records_take_the_fast_path(file: tuple[list[str], list[str]]) -> None:
    columns, record = file
    parser = RecordParser(columns)
    fast = parser._fast(record if parser._complete else [*record, ""], 9)
    assert fast is not None
    assert outcome(lambda: fast) == full_checks(columns, record)


def test_decimal_memo_stays_bounded_and_reads_values_as_the_full_checks() -> None:
    parser = RecordParser(list(ORDER_FIELDS))
    for number in range(RecordParser.MEMO_LIMIT * 2 + 3):
        record = ["" for _ in ORDER_FIELDS]
        record[ORDER_FIELDS.index("transaction_id")] = str(number)
        record[ORDER_FIELDS.index("customer_id")] = "1"
        record[ORDER_FIELDS.index("weight_lb")] = f"{number}.0005"
        parsed = parser.parse(record, number)
        assert str(parsed.values["weight_lb"]) == str(Decimal(f"{number}.001"))
        assert all(len(memo) <= RecordParser.MEMO_LIMIT for memo in parser._decimals)


@pytest.mark.parametrize("value", [None, 5, ["7"]])
def test_values_that_are_not_text_go_through_the_full_checks(value: Any) -> None:
    columns = ["transaction_id", "customer_id", "weight_lb"]
    record: list[Any] = ["T1", "7", value]
    row = dict(zip(columns, record, strict=True))
    assert outcome(lambda: RecordParser(columns).parse(record, 9)) == outcome(lambda: parse_row(row, row_number=9))


def test_a_refused_record_names_its_transaction_id() -> None:
    parser = RecordParser(["customer_id", "transaction_id"])
    assert parser.transaction_id_of(["x", " T-9 "]) == "T-9"
    assert parser.transaction_id_of(["x"]) == ""


@st.composite
def batches(draw: st.DrawFn) -> tuple[list[str], list[list[Any]]]:
    """A header and several records of it: mostly clean, some with values of every kind."""
    columns = draw(headers())
    records = []
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            records.append([draw(clean_values(name)) for name in columns])
        else:
            anything = draw(st.sets(st.sampled_from(columns), max_size=2))
            records.append([draw(field_values(name) if name in anything else clean_values(name)) for name in columns])
    return columns, records


@given(batches())
def test_records_read_column_by_column_give_what_the_fast_path_gives_each(
    batch: tuple[list[str], list[list[Any]]],
) -> None:
    """parse_clean (a batch at once) takes the records _fast takes and reads them the same;
    the records it leaves go through parse(), whose result is the full checks'."""
    columns, records = batch
    parser = RecordParser(columns)
    numbered = [(9, record) for record in records]
    clean = parser.parse_clean(numbered)
    assert len(clean) == len(records)
    for record, order in zip(records, clean, strict=True):
        one = parser._fast(record if parser._complete else [*record, ""], 9)
        assert (order is None) == (one is None)
        if order is not None:
            assert outcome(lambda order=order: order) == outcome(lambda one=one: one) == full_checks(columns, record)
            # The COPY text made column by column is the one the writer makes from the values.
            assert order.copy == order_copy_body(dataclasses.replace(order, copy=None))


def test_a_batch_with_a_record_not_all_text_or_not_as_wide_as_the_header_is_read_record_by_record() -> None:
    columns = list(ORDER_FIELDS)
    record = [CLEAN[column] for column in columns]
    parser = RecordParser(columns)
    assert parser.parse_clean([(2, record)])[0] is not None
    assert parser.parse_clean([(2, record), (3, [*record[:-1], None])]) == [None, None]
    assert parser.parse_clean([(2, record), (3, record[:-1])]) == [None, None]
    assert parser.parse_clean([]) == []


@given(st.lists(files(clean=True).map(lambda file: file[1]), min_size=1, max_size=4), st.just(list(ORDER_FIELDS)))
def test_a_batch_of_clean_records_is_read_whole_column_by_column(records: list[list[str]], columns: list[str]) -> None:
    clean = [[CLEAN[name] if name in ("customer_id", "transaction_id") else "" for name in columns], *records[:0]]
    parser = RecordParser(columns)
    orders = parser.parse_clean([(9, record) for record in clean])
    assert all(order is not None for order in orders)


@given(files())
def test_an_orders_copy_text_gives_back_its_values(file: tuple[list[str], list[str]]) -> None:
    """A worker process sends each order as its COPY text: decoded, it gives the values parsing gave
    (the same Decimal digits, the same instant and zone), whichever path parsed it."""
    columns, record = file
    try:
        order = RecordParser(columns).parse(record, 9)
    except RowInvalid:
        return
    copy = order_copy_body(dataclasses.replace(order, copy=None))
    decoded = values_from_copy_body(copy)
    assert outcome(lambda: dataclasses.replace(order, values=decoded)) == outcome(lambda: order)
    assert decoded == order.values
    assert values_of(dataclasses.replace(order, values={}, copy=copy)) == order.values


@given(batches())
def test_records_read_without_their_values_carry_the_same_copy_text(
    batch: tuple[list[str], list[list[Any]]],
) -> None:
    columns, records = batch
    parser = RecordParser(columns)
    numbered = [(9, record) for record in records]
    with_values = parser.parse_clean(numbered)
    without = parser.parse_clean(numbered, values=False)
    for full, bare in zip(with_values, without, strict=True):
        assert (full is None) == (bare is None)
        if full is not None and bare is not None:
            assert bare.values == {}
            assert dataclasses.replace(full, values={}) == bare
            assert values_of(bare) == full.values
