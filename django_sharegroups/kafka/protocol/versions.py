"""Version ranges as written in Kafka's message schemas: ``3+``, ``0-4``, ``2``, ``none``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VersionRange:
    """An inclusive range of message versions; ``highest=None`` means open-ended."""

    lowest: int
    highest: int | None

    @classmethod
    def parse(cls, text: str | VersionRange) -> VersionRange:
        if isinstance(text, VersionRange):
            return text
        text = text.strip()
        if text == "none":
            return NO_VERSIONS
        if text.endswith("+"):
            return cls(int(text[:-1]), None)
        if "-" in text:
            lowest, highest = text.split("-", 1)
            return cls(int(lowest), int(highest))
        return cls(int(text), int(text))

    @property
    def newest(self) -> int:
        """The highest version of a closed range (an API's own range always is)."""
        if self.highest is None:
            raise ValueError(f"versions {self} have no highest version")
        return self.highest

    def __contains__(self, version: object) -> bool:
        if not isinstance(version, int):
            return False
        return self.lowest <= version and (self.highest is None or version <= self.highest)

    def __str__(self) -> str:
        if self == NO_VERSIONS:
            return "none"
        if self.highest is None:
            return f"{self.lowest}+"
        if self.lowest == self.highest:
            return str(self.lowest)
        return f"{self.lowest}-{self.highest}"


NO_VERSIONS = VersionRange(-1, -1)
"""The empty range (``"none"`` in the schemas)."""
