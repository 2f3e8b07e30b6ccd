"""Writes a benchmark's results into its own section of docs/benchmarks.md.

Each benchmark owns the text between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``, so
several benchmarks share the page without overwriting each other.
"""

from __future__ import annotations

import platform
import re
import time
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADER = (
    "# Benchmarks\n\n"
    "Numbers from `python -m benchmarks.<name>` (see benchmarks/README.md). Each section is\n"
    "rewritten by its benchmark; ratios are measured side by side in one run, because the\n"
    "machines are shared and noisy.\n"
)


def write_section(name: str, body: str) -> None:
    text = PAGE.read_text() if PAGE.exists() else HEADER
    stamp = f"_Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on " + (
        f"{platform.machine()}, Python {platform.python_version()}._\n"
    )
    block = f"<!-- {name}:start -->\n{body.rstrip()}\n\n{stamp}<!-- {name}:end -->"
    pattern = re.compile(
        rf"<!-- {re.escape(name)}:start -->.*?<!-- {re.escape(name)}:end -->", re.S
    )
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else f"{text}\n{block}\n"
    PAGE.write_text(text)
