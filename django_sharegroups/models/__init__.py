"""Models of django-sharegroups, one module per concern; import them from here."""

from .mirror import ArchivedRecord, ConsumerProcess, DeadLetter, Lease
from .processed import ProcessedRecord

__all__ = ["ArchivedRecord", "ConsumerProcess", "DeadLetter", "Lease", "ProcessedRecord"]
