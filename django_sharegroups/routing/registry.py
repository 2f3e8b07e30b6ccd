"""The registry of declared share groups, filled by ``consumers.py`` modules at startup."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .share_group import ShareGroup


class RouteRegistry:
    """Keeps declarations in order, duplicates included, so checks can report them."""

    def __init__(self) -> None:
        self._groups: list[ShareGroup] = []
        self._lock = threading.Lock()
        #: Module being imported by autodiscovery; recorded on each declaration.
        self.current_module: str | None = None

    def register(self, group: ShareGroup) -> None:
        with self._lock:
            self._groups.append(group)

    @property
    def groups(self) -> list[ShareGroup]:
        return list(self._groups)

    def get(self, name: str) -> ShareGroup:
        for group in self._groups:
            if group.name == name:
                return group
        raise KeyError(f"No share group named {name!r} is declared.")

    def clear(self) -> None:
        with self._lock:
            self._groups.clear()

    @contextlib.contextmanager
    def declaring_from(self, module: str) -> Iterator[None]:
        """Mark declarations made while importing ``module``."""
        previous, self.current_module = self.current_module, module
        try:
            yield
        finally:
            self.current_module = previous

    @contextlib.contextmanager
    def isolated(self) -> Iterator[RouteRegistry]:
        """Swap in an empty registry (for tests), restoring the declarations afterwards."""
        saved = self._groups
        self._groups = []
        try:
            yield self
        finally:
            self._groups = saved


#: The project-wide registry that ``share_group()`` fills and the runtime reads.
registry = RouteRegistry()
