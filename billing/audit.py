"""The audit actions billing declares: `tokens.*` (VirtFusion token purchases: delivered,
resolved, taken back) and `refund.*` (refunds of purchases that could not take back what was
bought). They moved here from credits with their flows (issue 13); the values are stored and
never change. The credit purchase itself is recorded as credits' `credit.purchased`."""

from billing_portal.common.audit import AuditActions


class TokenAudit(AuditActions):
    TOKENS_ADDED = "tokens.added", "VPS tokens added"
    TOKENS_CANCELLED = "tokens.cancelled", "VPS token credit cancelled"
    TOKENS_DELIVERY_FAILED = "tokens.delivery_failed", "VPS tokens could not be added"
    TOKENS_RESOLVED = "tokens.resolved", "Pending VPS tokens resolved by staff"
    TOKENS_REMOVED = "tokens.removed", "Refunded VPS tokens taken back"


class RefundAudit(AuditActions):
    REFUND_SHORTFALL = "refund.shortfall", "Refund could not take back what was bought"
    REFUND_SHORTFALL_RESOLVED = "refund.shortfall_resolved", "Refund shortfall resolved"
