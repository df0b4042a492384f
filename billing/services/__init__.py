"""Writes of the billing app: the flows that span apps; import them from here."""

from billing.services.credit import (
    credit_auto_apply,
    credit_pay_invoice,
    credit_pay_invoice_if_covered,
)
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
    purchase_invoice_issue,
    token_purchase_start,
)
from billing.services.run import billing_run
from billing.services.settlement import invoice_apply_payment, invoice_mark_paid, invoice_settled

__all__ = [
    "billing_run",
    "checkout_complete",
    "credit_auto_apply",
    "credit_pay_invoice",
    "credit_pay_invoice_if_covered",
    "credit_purchase_start",
    "gateway_event_handle",
    "invoice_apply_payment",
    "invoice_charge_off_session",
    "invoice_issue",
    "invoice_issued",
    "invoice_mark_paid",
    "invoice_settled",
    "order_place",
    "payment_record",
    "payments_reconcile",
    "plan_change_request",
    "purchase_invoice_issue",
    "renewals_charge_off_session",
    "saved_card_pay",
    "saved_card_pay_complete",
    "subscription_payment_record",
    "token_purchase_start",
    "webhook_event_process",
]
