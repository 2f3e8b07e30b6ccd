from django.contrib import admin

from .models import CustomerEvent, Order, WebhookDelivery


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("order_id", "customer", "amount", "indexed_at", "updated_at")
    search_fields = ("order_id", "customer")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("order_id", "url", "attempts", "delivered_at")


@admin.register(CustomerEvent)
class CustomerEventAdmin(admin.ModelAdmin):
    list_display = ("customer", "sequence", "kind", "recorded_at")
    list_filter = ("kind",)
