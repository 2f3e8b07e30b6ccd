"""A side effect of processing a record; duplicates are what the idempotency tests count."""

import time

from django.db import models


class Effect(models.Model):
    share_group = models.CharField(max_length=255)
    topic = models.CharField(max_length=249)
    partition = models.IntegerField()
    offset = models.BigIntegerField()
    delivery_count = models.IntegerField()
    thread = models.CharField(max_length=255, blank=True)
    #: When it was written (``time.time()``): the paced scenario's throughput comes from it.
    at = models.FloatField(default=time.time)
