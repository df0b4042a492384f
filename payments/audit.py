"""The audit actions payments declares: the `payment.*` namespace."""

from billing_portal.common.audit import AuditActions


class PaymentAudit(AuditActions):
    PAYMENT_RECEIVED = "payment.received", "Payment received"
    PAYMENT_HELD = "payment.held", "Payment held for review"
    PAYMENT_REFUNDED = "payment.refunded", "Payment refunded"
    PAYMENT_DENIED = "payment.denied", "Payment denied"
    CARD_CHARGE_FAILED = "payment.card_charge_failed", "Saved card charge failed"
    CARD_EXPIRY_NOTICE = "payment.card_expiry_notice", "Card expiry notice sent"
