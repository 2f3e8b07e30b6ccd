"""Models of django-sharegroups, one module per concern; import them from here."""

from .audit import ShareGroupAuditEntry
from .mirror import ArchivedRecord, ConsumerProcess, DeadLetter, Lease
from .processed import ProcessedRecord
from .rollup import ThroughputMinute
from .share_group import ShareGroup

__all__ = [
    "ArchivedRecord",
    "ConsumerProcess",
    "DeadLetter",
    "Lease",
    "ProcessedRecord",
    "ShareGroup",
    "ShareGroupAuditEntry",
    "ThroughputMinute",
]
