"""Writes of the billing app: the flows that span apps; import them from here."""

from billing.services.credit import credit_auto_apply, credit_pay_invoice
from billing.services.delivery import purchases_on_invoice_paid
from billing.services.issuing import invoice_issue, invoice_issued
from billing.services.ordering import order_place, plan_change_request
from billing.services.payments import (
    checkout_complete,
    gateway_event_handle,
    invoice_charge_off_session,
    payment_record,
    payments_reconcile,
    renewals_charge_off_session,
    saved_card_pay,
    saved_card_pay_complete,
    subscription_payment_record,
    webhook_event_process,
)
from billing.services.purchases import (
    credit_purchase_start,
    purchase_amount_parse,
    purchase_invoice_issue,
    token_purchase_start,
)
from billing.services.refunds import (
    RefundPreview,
    credit_refund_payment,
    payment_refund_book_once,
    payment_refund_record,
    payment_refund_sync,
    payment_refund_via_gateway,
    purchase_refund_preview,
    purchase_refunded,
    token_purchase_refund,
)
from billing.services.run import billing_run
from billing.services.settlement import invoice_apply_payment, invoice_mark_paid, invoice_settled
from billing.services.shortfalls import refund_shortfall_resolve
from billing.services.tokens import (
    token_purchase_await,
    token_purchase_cancel,
    token_purchase_convert_to_credit,
    token_purchase_deliver,
    token_purchase_mark_delivered,
    token_purchase_quote,
    token_purchase_remove,
    token_purchase_retry,
    token_purchases_sweep,
    token_removals_sweep,
    tokens_add_by_staff,
)

__all__ = [
    "RefundPreview",
    "billing_run",
    "checkout_complete",
    "credit_auto_apply",
    "credit_pay_invoice",
    "credit_purchase_start",
    "credit_refund_payment",
    "gateway_event_handle",
    "invoice_apply_payment",
    "invoice_charge_off_session",
    "invoice_issue",
    "invoice_issued",
    "invoice_mark_paid",
    "invoice_settled",
    "order_place",
    "payment_record",
    "payment_refund_book_once",
    "payment_refund_record",
    "payment_refund_sync",
    "payment_refund_via_gateway",
    "payments_reconcile",
    "plan_change_request",
    "purchase_amount_parse",
    "purchase_invoice_issue",
    "purchase_refund_preview",
    "purchase_refunded",
    "purchases_on_invoice_paid",
    "refund_shortfall_resolve",
    "renewals_charge_off_session",
    "saved_card_pay",
    "saved_card_pay_complete",
    "subscription_payment_record",
    "token_purchase_await",
    "token_purchase_cancel",
    "token_purchase_convert_to_credit",
    "token_purchase_deliver",
    "token_purchase_mark_delivered",
    "token_purchase_quote",
    "token_purchase_refund",
    "token_purchase_remove",
    "token_purchase_retry",
    "token_purchase_start",
    "token_purchases_sweep",
    "token_removals_sweep",
    "tokens_add_by_staff",
    "webhook_event_process",
]
