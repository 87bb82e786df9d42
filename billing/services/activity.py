"""Import billable activity: the one service behind `manage.py import_activity` and the GraphQL upserts.

Four kinds, each matched by its natural key within its customer (docs/activity-import-format.md):

- inventory snapshots by (snapshot_date, normalised SKU, location);
- receipts, returns and extra-work entries by their reference.

As for orders (billing.services.orders), every row is parsed and checked on its own: bad rows are
reported with their row number and reason and skipped, good rows are written. A new key creates
a record, a known key updates its fields and replaces its SKU lines, and a row equal to what is
stored changes nothing, so importing the same file twice is harmless. Rows are written in
batches, each in its own transaction, with a constant number of queries per batch.

An extra-work entry names its service; the service must be an active line of the customer's
rate card (of the extra-work charge type, once the catalogue has one). Its `entered_by` is the
user who created it (through the API or the admin); an update leaves it as it was.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from operator import itemgetter
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Model, Q

from billing.db_copy import copy_statement
from billing.models import (
    ChargeType,
    ExtraWorkEntry,
    InventorySnapshot,
    ReceiptLine,
    ReturnLine,
    Service,
)
from billing.periods import billing_time_zone
from billing.permissions import Actor, ensure_can_import_activity, is_authenticated
from billing.selectors.activity import ACTIVITY_MODELS, rate_card_pairs, services_by_name
from billing.services.activity_rows import EXTRA_WORK, SNAPSHOTS, SPECS, ParsedActivity, RowSpec
from billing.services.order_rows import DEFAULT_BATCH_SIZE, RowError, RowInvalid
from billing.services.order_writes import _statements_unprepared
from billing.services.orders import _UNSYNCHRONISED_COMMIT, UpsertResult, _Batch, _numbered

logger = logging.getLogger(__name__)

#: How each kind is named in messages.
NOUNS = {
    "inventory_snapshots": "inventory snapshots",
    "receipts": "receipts",
    "returns": "returns",
    "extra_work": "extra work",
}
#: The SKU lines of the kinds that have them: (line model, its foreign key to the record).
LINE_MODELS: dict[str, tuple[type[Model], str]] = {
    "receipts": (ReceiptLine, "receipt"),
    "returns": (ReturnLine, "customer_return"),
}


@dataclass(slots=True)
class ActivityResult(UpsertResult):
    """What an import did; `generated` holds the references filled in for rows given none (by row number)."""

    generated: dict[int, str] = field(default_factory=dict)


def generated_reference() -> str:
    """A new extra-work reference, for an entry given none (the admin and the API)."""
    return f"EW-{uuid.uuid4().hex[:12].upper()}"


def extra_work_service_problem(service: Service, on_rate_card: bool) -> str | None:
    """Why `service` cannot be billed as a customer's extra work, or None when it can."""
    if not on_rate_card:
        return f"service {service.name!r} is not an active line of this customer's rate card"
    if service.charge_type != ChargeType.EXTRA_WORK:
        return f"service {service.name!r} is not an extra-work service (its charge type is {service.charge_type})"
    return None


def extra_work_check(customer_id: int, service: Service) -> str | None:
    """extra_work_service_problem for one entry (the admin form's check)."""
    return extra_work_service_problem(
        service, (customer_id, service.pk) in rate_card_pairs([customer_id], [service.pk])
    )


class _Import:
    """The state shared by the batches of one import."""

    def __init__(self, spec: RowSpec, *, actor: Actor, create_customers: bool, generate_references: bool) -> None:
        self.spec = spec
        self.model = ACTIVITY_MODELS[spec.kind]
        self.actor = actor
        self.result = ActivityResult()
        self.generate_references = generate_references
        self.zone = billing_time_zone()
        # Which customers exist and may be imported for: as for orders (placeholders created on the way).
        self.customers = _Batch(actor=actor, result=self.result, create_customers=create_customers)
        self.seen: dict[tuple[Any, ...], int] = {}  # (customer id, *key) -> first row number

    def reject(self, row_number: int, label: str, reason: str) -> None:
        self.result.errors.append(RowError(row_number, label, reason))

    def _with_reference(self, row_number: int, row: Any) -> Any:
        if not (self.generate_references and isinstance(row, Mapping)):
            return row
        reference = row.get("reference")
        if reference is not None and not (isinstance(reference, str) and not reference.strip()):
            return row
        generated = generated_reference()
        self.result.generated[row_number] = generated
        return {**row, "reference": generated}

    def prepare(self, chunk: list[tuple[int, Any]]) -> list[ParsedActivity]:
        """Parse and check a chunk; rejects its bad rows and returns the records to write."""
        parsed: list[ParsedActivity] = []
        invalid: list[tuple[int, str, RowInvalid]] = []
        for row_number, given in chunk:
            row = self._with_reference(row_number, given)
            if not isinstance(row, Mapping):
                self.reject(row_number, "", f"row is not an object of {NOUNS[self.spec.kind]} fields")
                continue
            try:
                record = self.spec.parse(row, row_number=row_number, zone=self.zone)
            except RowInvalid as exc:
                invalid.append((row_number, self.spec.label_of_row(row), exc))
                continue
            parsed.append(record)
        customer_ids = {record.customer_id for record in parsed}
        customer_ids.update(bad.customer_id for _, _, bad in invalid if bad.customer_id is not None)
        self.customers._resolve_customers(customer_ids)
        for row_number, label, bad in invalid:  # a row's problems are listed together, its customer's among them
            problems = bad.problems
            if bad.customer_id is not None and not self.customers.customer_allowed(bad.customer_id):
                problems = [f"unknown customer_id {bad.customer_id}", *problems]
            self.reject(row_number, label, "; ".join(problems))
        accepted = []
        for record in parsed:
            if self.customers.customer_allowed(record.customer_id):
                accepted.append(record)
            else:
                self.reject(record.row_number, record.label, f"unknown customer_id {record.customer_id}")
        if self.spec.kind == EXTRA_WORK:
            accepted = self._with_services(accepted)
        return self._first_of_each_key(accepted)

    def _first_of_each_key(self, records: list[ParsedActivity]) -> list[ParsedActivity]:
        """The first accepted row of each natural key in the import; later ones are rejected (a
        rejected row does not make a later row of its key a duplicate)."""
        unique = []
        for record in records:
            natural = (record.customer_id, *record.key)
            first = self.seen.get(natural)
            if first is not None:
                self.reject(record.row_number, record.label, f"given twice in this import (first on row {first})")
                continue
            self.seen[natural] = record.row_number
            unique.append(record)
        return unique

    def _with_services(self, records: list[ParsedActivity]) -> list[ParsedActivity]:
        """Extra work: each entry's service by name, which must be on the customer's rate card."""
        services = services_by_name({record.values["service"] for record in records})
        pairs = rate_card_pairs(
            {record.customer_id for record in records}, {service.pk for service in services.values()}
        )
        accepted = []
        for record in records:
            name = record.values["service"]
            service = services.get(name)
            if service is None:
                self.reject(record.row_number, record.label, f"unknown service {name!r}")
                continue
            problem = extra_work_service_problem(service, (record.customer_id, service.pk) in pairs)
            if problem is not None:
                self.reject(record.row_number, record.label, problem)
                continue
            values = {key: value for key, value in record.values.items() if key != "service"}
            values["service_id"] = service.pk
            record.values = values
            accepted.append(record)
        return accepted

    def write(self, records: list[ParsedActivity]) -> None:
        if not records:
            return
        try:
            outcome = self._write(records)
        except IntegrityError:
            # Another import created some of these records meanwhile: once more, now updating them.
            outcome = self._write(records)
        self.result.created += outcome.created
        self.result.updated += outcome.updated
        self.result.unchanged += outcome.unchanged

    @transaction.atomic
    def _write(self, records: list[ParsedActivity]) -> UpsertResult:
        """Write one batch in one transaction; returns its counts (applied by the caller once committed)."""
        outcome = UpsertResult()
        if connection.vendor == "postgresql":  # as for orders: a lost batch is written again by importing again
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL {_UNSYNCHRONISED_COMMIT}")
        spec, model = self.spec, self.model
        lookup = Q(customer_id__in={record.customer_id for record in records})
        for index, name in enumerate(spec.key_fields):
            lookup &= Q(**{f"{name}__in": {record.key[index] for record in records}})
        existing = {
            tuple(getattr(current, name) for name in ("customer_id", *spec.key_fields)): current
            for current in model._default_manager.select_for_update().filter(lookup)
        }
        lines_of = LINE_MODELS.get(spec.kind)
        stored_lines: dict[int, list[tuple[str, str, int]]] = {}
        if lines_of is not None and existing:
            line_model, parent = lines_of
            for parent_id, sku, sku_key, quantity in (
                line_model._default_manager.filter(**{f"{parent}_id__in": [r.pk for r in existing.values()]})
                .order_by()
                .values_list(f"{parent}_id", "sku", "sku_key", "quantity")
            ):
                stored_lines.setdefault(parent_id, []).append((sku, sku_key, quantity))

        entered_by = self.actor.pk if is_authenticated(self.actor) else None
        to_create: list[tuple[Model, ParsedActivity]] = []
        to_update: list[Model] = []
        changed_fields: set[str] = set()
        replace: list[tuple[Model, ParsedActivity]] = []
        for record in records:
            current = existing.get((record.customer_id, *record.key))
            if current is None:
                instance = model(customer_id=record.customer_id, **record.values)
                if spec.kind == EXTRA_WORK:
                    instance.entered_by_id = entered_by  # type: ignore[attr-defined]
                to_create.append((instance, record))
                continue
            changed = [name for name, value in record.values.items() if getattr(current, name) != value]
            lines_changed = lines_of is not None and sorted(stored_lines.get(current.pk, ())) != sorted(record.lines)
            if not changed and not lines_changed:
                outcome.unchanged += 1
                continue
            for name in changed:
                setattr(current, name, record.values[name])
            changed_fields.update(changed)
            if changed:
                to_update.append(current)
            if lines_changed:
                replace.append((current, record))
            outcome.updated += 1

        if spec.kind == SNAPSHOTS and connection.vendor == "postgresql":
            _copy_snapshots([record for _, record in to_create])  # no lines, no ids needed: COPY
        else:
            model._default_manager.bulk_create([instance for instance, _ in to_create])
        outcome.created = len(to_create)
        if to_update:
            model._default_manager.bulk_update(to_update, sorted(changed_fields))
        if lines_of is not None:
            line_model, parent = lines_of
            if replace:
                line_model._default_manager.filter(
                    **{f"{parent}_id__in": [current.pk for current, _ in replace]}
                ).delete()
            line_model._default_manager.bulk_create(
                line_model(**{f"{parent}_id": owner.pk}, sku=sku, sku_key=sku_key, quantity=quantity)
                for owner, record in [*to_create, *replace]
                for sku, sku_key, quantity in record.lines
            )
        return outcome


def _copy_snapshots(records: list[ParsedActivity]) -> None:
    """Insert new inventory snapshots with COPY (a snapshot file has hundreds of thousands of rows)."""
    if not records:
        return
    names = list(records[0].values)  # every snapshot has the same fields
    values = itemgetter(*names)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(copy_statement(InventorySnapshot, ["customer", *names])) as copy,
    ):
        for record in records:
            copy.write_row((record.customer_id, *values(record.values)))


def activity_upsert(
    kind: str,
    *,
    rows: Iterable[Mapping[str, Any] | tuple[int, Mapping[str, Any] | Sequence[str]]],
    actor: Actor = None,
    source: str = "api",
    batch_size: int = DEFAULT_BATCH_SIZE,
    create_customers: bool = False,
    generate_references: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> ActivityResult:
    """Create or update billable activity of `kind` (billing.services.activity_rows.KINDS) from rows.

    Rows are as for orders_upsert: mappings of the kind's fields, or `(row_number, mapping)` pairs.
    An `actor` (None for a server-side command) needs the add and change permissions of the kind's
    model and may only import activity of customers it can see; extra-work entries it creates are
    entered by it. With `generate_references` (the API), an extra-work row without a reference
    gets a new one (listed in the result's `generated`). With `create_customers` (server-side
    imports only), an unknown customer id gets a placeholder customer. `on_progress(rows_done)`
    is called after every batch.
    """
    if kind not in SPECS:
        raise ValueError(f"unknown kind of activity {kind!r}")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    ensure_can_import_activity(actor, kind, NOUNS[kind], create_customers=create_customers)
    state = _Import(
        SPECS[kind],
        actor=actor,
        create_customers=create_customers,
        generate_references=generate_references and kind == EXTRA_WORK,
    )
    numbered = _numbered(rows)
    done = 0
    with _statements_unprepared():  # each batch lookup planned with its own parameters, as for orders
        while chunk := list(islice(numbered, batch_size)):
            state.write(state.prepare(chunk))
            done += len(chunk)
            if on_progress is not None:
                on_progress(done)
    result = state.result
    result.errors.sort(key=lambda error: error.row_number)
    # A rejected row keeps no generated reference: nothing carries it, and its error names none.
    generated = result.generated
    result.errors = [RowError(e.row_number, "", e.reason) if e.row_number in generated else e for e in result.errors]
    rejected = {error.row_number for error in result.errors}
    result.generated = {row: reference for row, reference in generated.items() if row not in rejected}
    logger.info("%s imported from %s: %s", NOUNS[kind], source, result.summary())
    return result


def extra_work_entry_save(entry: ExtraWorkEntry, *, actor: Actor) -> ExtraWorkEntry:
    """Save an entry made in the admin: a generated reference when none was given, and a new
    entry is entered by `actor`. The form has checked its service (extra_work_check)."""
    if not entry.reference.strip():
        entry.reference = generated_reference()
    if entry.pk is None and entry.entered_by_id is None and is_authenticated(actor):
        entry.entered_by = actor
    entry.save()
    return entry
