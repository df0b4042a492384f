"""The audit actions the catalogue declares: `order.*` (the orders are the catalogue's; billing
places and cancels them)."""

from billing_portal.common.audit import AuditActions


class OrderAudit(AuditActions):
    ORDER_PLACED = "order.placed", "Order placed"
    ORDER_CANCELLED = "order.cancelled", "Order cancelled"


class ClientGroupAudit(AuditActions):
    CUSTOMER_GROUP_CHANGED = "client_group.customer_changed", "Customer's client group changed"
