"""The audit actions credits declares: `credit.*` (the ledger and credit purchases),
`tokens.*` (VirtFusion tokens) and `refund.*` (refunds that could not take back what was
bought)."""

from billing_portal.common.audit import AuditActions


class CreditAudit(AuditActions):
    CREDIT_ADDED = "credit.added", "Credit added"
    CREDIT_REMOVED = "credit.removed", "Credit removed"
    CREDIT_PURCHASED = "credit.purchased", "Credit purchased"
    TOKENS_ADDED = "tokens.added", "VPS tokens added"
    TOKENS_CANCELLED = "tokens.cancelled", "VPS token credit cancelled"
    TOKENS_DELIVERY_FAILED = "tokens.delivery_failed", "VPS tokens could not be added"
    TOKENS_RESOLVED = "tokens.resolved", "Pending VPS tokens resolved by staff"
    TOKENS_REMOVED = "tokens.removed", "Refunded VPS tokens taken back"
    REFUND_SHORTFALL = "refund.shortfall", "Refund could not take back what was bought"
    REFUND_SHORTFALL_RESOLVED = "refund.shortfall_resolved", "Refund shortfall resolved"
