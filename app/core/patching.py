"""Applying a PATCH body (a Pydantic model dumped with exclude_unset) to an ORM object."""

from __future__ import annotations

from typing import Any

from app.core.errors import ValidationFailed, field_error


def apply_changes(target: Any, changes: dict[str, Any], *, nullable: frozenset[str] = frozenset()) -> set[str]:
    """Set the given attributes; refuse an explicit null for a field that cannot be empty.

    Returns the names of the attributes whose value really changed.
    """
    nulls = [name for name, value in changes.items() if value is None and name not in nullable]
    if nulls:
        raise ValidationFailed(
            "These fields cannot be null: " + ", ".join(nulls),
            errors=[field_error(["body", name], "may not be null", "null_not_allowed") for name in nulls],
        )
    changed = set()
    for name, value in changes.items():
        if getattr(target, name) != value:
            setattr(target, name, value)
            changed.add(name)
    return changed
