"""Plain-text tables for the terminal: aligned columns, ``-`` for missing values."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def _cell(value: object) -> str:
    if value is None or value == "":
        return "-"
    return str(value)


def render_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Columns as wide as their widest cell, two spaces apart, headers in capitals."""
    cells = [[header.upper() for header in headers]]
    cells += [[_cell(value) for value in row] for row in rows]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]
    return "\n".join(
        "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )


def render_fields(fields: Iterable[tuple[str, object]]) -> str:
    """``Label   value`` lines, labels padded to the longest."""
    pairs = [(label, _cell(value)) for label, value in fields]
    width = max((len(label) for label, _ in pairs), default=0)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in pairs)
