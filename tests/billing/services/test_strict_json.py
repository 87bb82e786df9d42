"""Strict JSON fields: no coercion, and DRF's nested errors flattened to document paths."""

import pytest
from rest_framework.exceptions import ValidationError

from billing.services.strict_json import DecimalText, Object, Text, flatten_errors, path_of


class Item(Object):
    name = Text(max_length=3, blank=False)


class Box(Object):
    label = Text(max_length=10, required=False)
    items = Item(many=True)


def errors_of(data):
    with pytest.raises(ValidationError) as caught:
        Box().run_validation(data)
    flat: dict[str, list[str]] = {}
    flatten_errors(caught.value.detail, "", flat)
    return flat


def test_nested_errors_become_paths():
    assert errors_of({"label": 7, "items": [{"name": "ok"}, {"name": " "}, "x", {"name": "long", "n": 1}]}) == {
        "label": ["must be a string, got number"],
        "items[1].name": ["must not be empty"],
        "items[2]": ["must be an object, got string"],
        "items[3].n": ["unknown key (allowed: name)"],
        "items[3].name": ["is longer than 3 characters"],
    }


def test_missing_and_null_are_named_apart_and_the_root_is_the_document():
    assert errors_of({"items": None}) == {"items": ["must be an array, got null"]}
    assert errors_of({}) == {"items": ["is required"]}
    assert errors_of([]) == {"document": ["must be an object, got array"]}


def test_path_of_follows_the_item_being_checked():
    seen = []

    class Spy(Object):
        name = Text(max_length=10)

        def validate(self, attrs):
            seen.append(path_of(self))
            return attrs

    class Outer(Object):
        spies = Spy(many=True)

    Outer().run_validation({"spies": [{"name": "a"}, {"name": "b"}]})
    assert seen == ["spies[0]", "spies[1]"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1.23456", "has more than 4 decimal places: '1.23456'"),
        ("Infinity", "is not a finite number: 'Infinity'"),
        ("-1", "must not be negative, got '-1'"),
        ("100", "is too large: '100'"),
        ("abc", "is not a decimal number: 'abc'"),
        (1.5, 'must be a decimal string such as "0.25", got number 1.5'),
    ],
)
def test_decimal_text_refuses_what_is_not_an_exact_bounded_amount(value, message):
    with pytest.raises(ValidationError) as caught:
        DecimalText(limit=100).run_validation(value)
    assert caught.value.detail == [message]
