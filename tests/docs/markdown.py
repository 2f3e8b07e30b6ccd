"""Reading the code samples out of the Markdown docs, so tests can run them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
FENCE = re.compile(r"^```(?P<language>[\w-]*)[^\n]*\n(?P<code>.*?)^```", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Sample:
    path: Path
    line: int
    language: str
    code: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(DOCS.parent)}:{self.line}"


def samples(path: Path, language: str | None = None) -> list[Sample]:
    text = path.read_text()
    found = []
    for match in FENCE.finditer(text):
        if language is None or match["language"] == language:
            line = text.count("\n", 0, match.start()) + 1
            found.append(Sample(path, line, match["language"], match["code"]))
    return found


def sample_containing(path: Path, needle: str, language: str = "python") -> Sample:
    """The one ``language`` sample of ``path`` that contains ``needle``."""
    matching = [s for s in samples(path, language) if needle in s.code]
    assert len(matching) == 1, f"{path.name}: {len(matching)} {language} samples contain {needle!r}"
    return matching[0]
