"""Rows that make idempotent consumers idempotent: one per record whose job committed."""

from django.db import models

from .base import RecordOrigin


class ProcessedRecord(RecordOrigin):
    """Written in the job's transaction for every record it ACCEPTed; a redelivered record
    with a row is ACCEPTed again without running ``consume``."""

    processed_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-processed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["share_group", "topic", "partition", "offset"],
                name="sharegroups_processed_unique",
            )
        ]
