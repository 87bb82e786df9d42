"""Strict JSON documents read with DRF serializers, with every problem named by its path.

The fields never coerce (a number is not a string, a float is not a decimal); a null is a
value of the wrong type; an object refuses unknown keys and keys its text repeats (decode with
`object_from_pairs` to keep them); the nested errors of DRF are flattened to `{"customers[0].rate_card[1].unit_price":
[messages]}`. Each message is a phrase that follows its path ("is required").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.fields import empty
from rest_framework.settings import api_settings

from billing.services.order_rows import is_storable_text

PLACES = 4  # decimal places of a DecimalText
_NON_FIELD = api_settings.NON_FIELD_ERRORS_KEY
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def type_name(value: Any) -> str:
    """The JSON name of a value's type, as the messages say it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, Decimal)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


# --- fields ------------------------------------------------------------------------------------


class _Strict:
    """A null is a value of the wrong type (each class says why), not DRF's "may not be null"."""

    default_error_messages: ClassVar[dict[str, Any]] = {"required": "is required"}
    allow_null: bool

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if data is None and not self.allow_null:
            return False, None
        return super().validate_empty_values(data)  # type: ignore[misc]


class Field(_Strict, serializers.Field):
    def to_representation(self, value: Any) -> Any:
        return value


class Text(Field):
    default_error_messages: ClassVar[dict[str, Any]] = {
        "type": "must be a string, got {got}",
        "blank": "must not be empty",
        "long": "is longer than {max_length} characters",
    }

    def __init__(self, *, max_length: int, blank: bool = True, **kwargs: Any) -> None:
        self.max_length, self.blank = max_length, blank
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("type", got=type_name(data))
        if not self.blank and not data.strip():
            self.fail("blank")
        if len(data) > self.max_length:
            self.fail("long", max_length=self.max_length)
        return data


class Boolean(Field):
    default_error_messages: ClassVar[dict[str, Any]] = {"type": "must be true or false, got {got}"}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("type", got=type_name(data))
        return data


class Choice(Field):
    default_error_messages: ClassVar[dict[str, Any]] = {"choice": "must be one of {allowed}, got {value}"}

    def __init__(self, choices: list[str], **kwargs: Any) -> None:
        self.choices = choices
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str) or data not in self.choices:
            self.fail("choice", allowed=", ".join(choice or '""' for choice in self.choices), value=repr(data))
        return data


class DecimalText(Field):
    """A decimal given as a string ("0.25") or an integer; floats are refused (money is exact)."""

    default_error_messages: ClassVar[dict[str, Any]] = {
        "type": 'must be a decimal string such as "0.25", got {got} {value}',
        "invalid": "is not a decimal number: {value}",
        "infinite": "is not a finite number: {value}",
        "not_positive": "must be greater than 0, got {value}",
        "negative": "must not be negative, got {value}",
        "large": "is too large: {value}",
        "places": f"has more than {PLACES} decimal places: {{value}}",
    }

    def __init__(self, *, limit: Decimal, positive: bool = False, **kwargs: Any) -> None:
        self.limit, self.positive = limit, positive
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Decimal:
        value = repr(data)
        if isinstance(data, bool) or not isinstance(data, (str, int)):
            self.fail("type", got=type_name(data), value=value)
        try:
            number = Decimal(data.strip() if isinstance(data, str) else data)
        except InvalidOperation:
            self.fail("invalid", value=value)
        if not number.is_finite():
            self.fail("infinite", value=value)
        if self.positive and number <= 0:
            self.fail("not_positive", value=value)
        if number < 0:
            self.fail("negative", value=value)
        if number >= self.limit:
            self.fail("large", value=value)
        quantized = number.quantize(Decimal(1).scaleb(-PLACES))
        if quantized != number:
            self.fail("places", value=value)
        return quantized


class Integer(Field):
    default_error_messages: ClassVar[dict[str, Any]] = {"type": "must be an integer, got {got}"}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("type", got=type_name(data))
        return data


class WholeNumber(Field):
    default_error_messages: ClassVar[dict[str, Any]] = {"invalid": "must be a whole number >= {low}, got {value}"}

    def __init__(self, *, low: int, high: int, **kwargs: Any) -> None:
        self.low, self.high = low, high
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int) or not self.low <= data <= self.high:
            self.fail("invalid", low=self.low, value=repr(data))
        return data


class Currency(Field):
    default_error_messages: ClassVar[dict[str, Any]] = {
        "invalid": "must be a three-letter ISO 4217 code such as 'USD', got {value}"
    }

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str) or not _CURRENCY.match(data):
            self.fail("invalid", value=repr(data))
        return data


class Email(Text):
    default_error_messages: ClassVar[dict[str, Any]] = {"email": "is not a valid email address: {value}"}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=254, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if value:
            try:
                validate_email(value)
            except DjangoValidationError:
                self.fail("email", value=repr(value))
        return value


class Exactly(Field):
    default_error_messages: ClassVar[dict[str, Any]] = {"other": "must be {expected}, got {value}"}

    def __init__(self, expected: int, **kwargs: Any) -> None:
        self.expected = expected
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or data != self.expected:
            self.fail("other", expected=self.expected, value=repr(data))
        return self.expected


class Anything(Field):
    """A value checked by the serializer's validate() (a rule's parts: the pricing engine checks them)."""

    def to_internal_value(self, data: Any) -> Any:
        return data


# --- objects and arrays ------------------------------------------------------------------------


class Array(_Strict, serializers.ListSerializer):
    """An array of objects that knows which item it is checking (see path_of)."""

    index = 0

    def to_internal_value(self, data: Any) -> list[Any]:
        if not isinstance(data, list):
            raise ValidationError([f"must be an array, got {type_name(data)}"])
        child = self.child
        assert child is not None
        values: list[Any] = []
        errors: dict[Any, Any] = {}
        for index, item in enumerate(data):
            self.index = index
            try:
                values.append(child.run_validation(item))
            except ValidationError as exc:
                errors[index] = exc.detail
        if errors:
            raise ValidationError(errors)
        return values


def _with_key_errors(key_errors: dict[str, list[str]], detail: Any) -> Any:
    """An object's errors with those of its unknown and repeated keys."""
    if not key_errors:
        return detail
    merged: dict[str, Any] = {}
    for key, messages in key_errors.items():  # what is wrong with the keys first, then the values
        own = detail.get(key)
        merged[key] = {_NON_FIELD: messages, **own} if isinstance(own, dict) else [*messages, *(own or [])]
    for key, value in detail.items():
        merged.setdefault(key, value)
    return merged


def path_of(node: serializers.Field) -> str:
    """Where in the document a serializer (or field) is working now: `customers[0].rate_card[2]`."""
    parts = []
    while node.parent is not None:
        parent = node.parent
        parts.append(f"[{parent.index}]" if isinstance(parent, Array) else f".{node.field_name}")
        node = parent
    return "".join(reversed(parts)).lstrip(".")


class Object(_Strict, serializers.Serializer):
    """A JSON object: unknown and repeated keys are errors, beside the errors of its fields."""

    class Meta:
        list_serializer_class = Array

    key_errors: dict[str, list[str]] = {}  # of the object being checked

    def run_validation(self, data: Any = empty) -> Any:
        # The object's own checks (validate) still run beside unknown keys: a typo hides nothing else.
        self.key_errors = {}
        for key in getattr(data, "duplicate_keys", ()):
            self.key_errors[str(key)] = ["duplicate key: the document gives it more than once"]
        allowed = ", ".join(self.fields)
        for key in data if isinstance(data, Mapping) else ():
            if key not in self.fields:
                self.key_errors.setdefault(str(key), []).append(f"unknown key (allowed: {allowed})")
        try:
            value = super().run_validation(data)
        except ValidationError as exc:
            raise ValidationError(_with_key_errors(self.key_errors, exc.detail)) from None
        if self.key_errors:
            raise ValidationError(self.key_errors)
        return value

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise ValidationError([f"must be an object, got {type_name(data)}"])
        return super().to_internal_value(data)


def flatten_errors(detail: Any, path: str, into: dict[str, list[str]]) -> None:
    """DRF's nested errors as {path: [messages]}: dict keys are fields (or list indexes), lists messages."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == _NON_FIELD:
                child = path
            elif isinstance(key, int):
                child = f"{path}[{key}]"
            else:
                child = f"{path}.{key}" if path else str(key)
            flatten_errors(value, child, into)
    elif isinstance(detail, list):
        for index, item in enumerate(detail):
            if isinstance(item, (dict, list)):
                flatten_errors(item, f"{path}[{index}]", into)
            else:
                into.setdefault(path or "document", []).append(str(item))


class Pairs(dict):
    """A decoded JSON object that remembers the keys the text gave more than once."""

    duplicate_keys: tuple[str, ...] = ()


def object_from_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = Pairs(pairs)
    if len(obj) != len(pairs):
        counts = Counter(key for key, _ in pairs)
        obj.duplicate_keys = tuple(key for key, count in counts.items() if count > 1)
    return obj


def structure_errors(document: Any, errors: dict[str, list[str]], *, max_depth: int, too_deep: str) -> None:
    """Depth, NUL characters and lone surrogates, checked without recursion before the document is read.

    A self-containing (recursive) structure, passed in code, is refused as too deep (`too_deep`).
    """
    stack: list[tuple[Any, str, int]] = [(document, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        problem = None
        if isinstance(value, str):
            if "\x00" in value:
                problem = "contains a NUL character"
            elif not value.isascii() and not is_storable_text(value):
                problem = "is not valid Unicode text (a lone surrogate such as \\ud800)"
        elif isinstance(value, (Mapping, list)):
            if depth >= max_depth:
                problem = too_deep
            else:
                items = value.items() if isinstance(value, Mapping) else enumerate(value)
                for key, item in items:
                    if isinstance(key, str) and "\x00" in key:
                        errors.setdefault(path or "document", []).append("has a key with a NUL character")
                        continue
                    child = f"{path}[{key}]" if isinstance(value, list) else (f"{path}.{key}" if path else str(key))
                    stack.append((item, child, depth + 1))
        if problem:
            errors.setdefault(path or "document", []).append(problem)
