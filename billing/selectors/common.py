"""Helpers shared by the selectors."""

from __future__ import annotations


def ordering_from(
    order_by: str | None, allowed: dict[str, str], default: str, errors: dict[str, list[str]]
) -> list[str]:
    """Translate a whitelisted public ordering name into ORM ordering, with 'id' as tie-breaker."""
    name = (order_by or default).strip()
    descending = name.startswith("-")
    key = name[1:] if descending else name
    if key not in allowed:
        errors["order_by"] = [
            f"Cannot order by {name!r}. Allowed: {', '.join(sorted(allowed))} (prefix '-' to reverse)."
        ]
        return []
    field = allowed[key]
    prefix = "-" if descending else ""
    ordering = [prefix + field]
    if field != "id":
        ordering.append(prefix + "id")
    return ordering
