"""The audit actions the catalogue declares: `order.*` (the orders are the catalogue's; billing
places and cancels them)."""

from billing_portal.common.audit import AuditActions


class OrderAudit(AuditActions):
    ORDER_PLACED = "order.placed", "Order placed"
    ORDER_CANCELLED = "order.cancelled", "Order cancelled"
