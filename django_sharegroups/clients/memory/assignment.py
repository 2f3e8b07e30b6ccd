"""Share-group partition assignment, balanced like Kafka's ``SimpleAssignor``.

Every partition of a subscribed topic goes to ``ceil(subscribers / partitions)`` members, so
with more members than partitions several members share a partition, and with more
partitions than members each member gets its own subset. Members with the fewest partitions
so far are chosen first, earliest joiner on ties. Unlike Kafka's assignor it is not sticky:
the whole assignment is recomputed when membership or topics change, which is harmless here
because acquired records stay with their member whatever the assignment says.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

__all__ = ["assign_partitions"]


def assign_partitions(
    members: Sequence[tuple[str, Collection[str]]],
    partitions_by_topic: Mapping[str, int],
) -> dict[str, list[tuple[str, int]]]:
    """Map each member id (given in join order, with its topics) to its ``(topic, partition)``s."""
    assignment: dict[str, list[tuple[str, int]]] = {member_id: [] for member_id, _ in members}
    join_order = {member_id: index for index, (member_id, _) in enumerate(members)}
    for topic in sorted(partitions_by_topic):
        subscribers = [member_id for member_id, topics in members if topic in topics]
        partitions = partitions_by_topic[topic]
        if not subscribers or not partitions:
            continue
        sharing = math.ceil(len(subscribers) / partitions)
        for partition in range(partitions):
            subscribers.sort(key=lambda m: (len(assignment[m]), join_order[m]))
            for member_id in subscribers[:sharing]:
                assignment[member_id].append((topic, partition))
    return assignment
