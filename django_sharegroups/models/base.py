"""What every record-level row shares: where the record came from (its coordinates)."""

from django.db import models


class RecordOrigin(models.Model):
    """A record of a share group, identified by topic, partition and offset."""

    share_group = models.CharField(max_length=255)
    topic = models.CharField(max_length=249)
    partition = models.PositiveIntegerField()
    offset = models.BigIntegerField()

    class Meta:
        abstract = True

    @property
    def coordinates(self) -> tuple[str, int, int]:
        return (self.topic, self.partition, self.offset)

    def __str__(self) -> str:
        return f"{self.share_group}: {self.topic}[{self.partition}]@{self.offset}"
