"""The audit actions credits declares: `credit.*` (the ledger: credit added, removed, and
bought through a purchase). Token purchases and refund shortfalls are billing's
(billing/audit.py)."""

from billing_portal.common.audit import AuditActions


class CreditAudit(AuditActions):
    CREDIT_ADDED = "credit.added", "Credit added"
    CREDIT_REMOVED = "credit.removed", "Credit removed"
    CREDIT_PURCHASED = "credit.purchased", "Credit purchased"
