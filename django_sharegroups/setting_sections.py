"""One parser for the ``SHAREGROUPS`` entries that hold a section of options (``MIRROR``,
``BROKER_DLQ``, ``SUPERVISOR``): a dict naming fields of a frozen dataclass, or a shorthand
word that stands for such a dict. The errors a user meets read the same for every section."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any, TypeVar

from .exceptions import ConfigurationError

Section = TypeVar("Section")


def parse_section(
    cls: type[Section],
    name: str,
    value: Any,
    *,
    defaults: dict[str, Any] | None = None,
    shorthand: Callable[[Any], dict[str, Any] | None] | None = None,
) -> Section:
    """``cls`` built from ``SHAREGROUPS[name]``: None means ``defaults`` alone; a dict is laid
    over ``defaults``; anything else must be a word ``shorthand`` turns into such a dict
    (it returns None for what it does not know). Unknown keys are refused by name."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        options = shorthand(value) if shorthand is not None else None
        if options is None:
            raise ConfigurationError(f"SHAREGROUPS[{name!r}] must be a dict, not {value!r}.")
        value = options
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = set(value) - known
    if unknown:
        raise ConfigurationError(
            f"Unknown SHAREGROUPS[{name!r}] key(s): {', '.join(sorted(unknown))}. "
            f"Known: {', '.join(sorted(known))}."
        )
    return cls(**{**(defaults or {}), **value})
