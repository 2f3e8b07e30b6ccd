"""Which declared share groups a process runs (``--group`` / ``--exclude-group``)."""

from __future__ import annotations

from collections.abc import Sequence

from ..exceptions import ConfigurationError
from ..routing import RouteRegistry, ShareGroup, registry


def select_share_groups(
    include: Sequence[str] = (), exclude: Sequence[str] = (), routes: RouteRegistry = registry
) -> list[ShareGroup]:
    declared = {group.name: group for group in routes.groups}
    unknown = sorted((set(include) | set(exclude)) - set(declared))
    if unknown:
        raise ConfigurationError(
            f"No share group named {', '.join(unknown)}; declared: {', '.join(declared) or 'none'}."
        )
    chosen = [g for name, g in declared.items() if (not include or name in include)]
    chosen = [g for g in chosen if g.name not in exclude]
    if not chosen:
        raise ConfigurationError("No share group to run: declare one in an app's consumers.py.")
    return chosen
