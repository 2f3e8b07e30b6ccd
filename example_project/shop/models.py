"""The example shop's own data: what its share-group consumers write."""

from django.db import models


class Order(models.Model):
    """Upserted from ``shop-orders`` records by the orders consumer; the search indexer
    stamps ``indexed_at`` from the same records in a second share group."""

    order_id = models.PositiveIntegerField(unique=True)
    customer = models.CharField(max_length=100)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    indexed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-order_id"]

    def __str__(self) -> str:
        return f"order {self.order_id}"


class WebhookDelivery(models.Model):
    """A webhook about an order that reached its endpoint, after ``attempts`` deliveries."""

    order_id = models.PositiveIntegerField()
    url = models.URLField()
    attempts = models.PositiveSmallIntegerField()
    delivered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-delivered_at"]
        verbose_name_plural = "webhook deliveries"


class CustomerEvent(models.Model):
    """A customer's timeline, kept in order per customer by the ``per_key`` consumer."""

    customer = models.CharField(max_length=100, db_index=True)
    sequence = models.PositiveIntegerField()
    kind = models.CharField(max_length=50)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["customer", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "sequence"], name="shop_event_unique")
        ]
