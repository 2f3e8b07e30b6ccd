"""The row the ORM workload writes per record."""

from django.db import models


class Delivery(models.Model):
    """One processed record, as a webhook or an order import would store it."""

    topic = models.CharField(max_length=255)
    partition = models.IntegerField()
    offset = models.BigIntegerField()
    number = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
