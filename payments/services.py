"""Payment writes: recording a payment once, holding what cannot be applied, refunds.

Lock order (DESIGN.md): invoice before payment. `payment_record` locks the invoice first and
only then looks for an earlier record of the same provider reference, so concurrent reports
of one payment (webhook, return page, reconciliation) queue on the invoice row and the later
ones find the first one's record.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from djmoney.money import Money

from accounts.models import AuditAction, User
from accounts.services import audit_record
from billing_portal.common.request import RequestMeta
from invoices.models import Invoice
from invoices.services import credit_note_issue, invoice_apply_payment, invoice_payment_problem
from payments.errors import RefundNotPossible
from payments.models import Payment


@transaction.atomic
def payment_record(
    *,
    invoice_id: int,
    gateway: str,
    reference: str,
    amount: Money,
    fee: Money | None = None,
    method: str = Payment.Method.OTHER,
    received_at: datetime | None = None,
    raw: dict | None = None,
    actor: User | None = None,
    meta: RequestMeta | None = None,
) -> Payment:
    """Record a payment for an invoice and apply it, exactly once per (gateway, reference).

    Returns the existing record when this reference was recorded before. A payment whose
    amount or currency does not fit the invoice, or that arrives for an invoice that is no
    longer payable, is stored `held` with the reason and not applied.
    """
    invoice = Invoice.objects.select_for_update().select_related("customer").get(pk=invoice_id)
    existing = Payment.objects.filter(gateway=gateway, reference=reference).first()
    if existing is not None:
        return existing
    problem = invoice_payment_problem(invoice, amount)
    currency = str(amount.currency)
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                invoice=invoice,
                customer=invoice.customer,
                gateway=gateway,
                reference=reference,
                method=method,
                status=Payment.Status.HELD if problem else Payment.Status.APPLIED,
                currency=currency,
                amount=amount,
                fee=fee if fee is not None else Money(0, currency),
                amount_refunded=Money(0, currency),
                review_reason=problem or "",
                raw=raw or {},
                received_at=received_at or timezone.now(),
                recorded_by=actor,
            )
    except IntegrityError:
        # The same reference was recorded against another invoice: keep the first record.
        return Payment.objects.get(gateway=gateway, reference=reference)
    if problem is None:
        invoice_apply_payment(
            invoice_id=invoice.pk,
            amount=amount,
            paid_at=payment.received_at,
            actor=actor,
            reference=f"{gateway}:{reference}",
        )
    audit_record(
        action=AuditAction.PAYMENT_HELD if problem else AuditAction.PAYMENT_RECEIVED,
        actor=actor,
        customer=invoice.customer,
        target=payment,
        meta=meta,
        details={
            "invoice": invoice.number,
            "gateway": gateway,
            "reference": reference,
            "amount": str(amount),
            **({"reason": problem} if problem else {}),
        },
    )
    return payment


@transaction.atomic
def payment_refund_record(
    *,
    payment_id: int,
    amount: Money,
    reason: str,
    actor: User | None = None,
) -> Payment:
    """Record that (part of) a payment was returned outside the portal, e.g. by bank
    transfer: the refund is booked and, for an applied payment, a credit note is issued on
    its invoice. The customer's services are not touched: a refund is not a termination."""
    payment = Payment.objects.select_related("invoice").get(pk=payment_id)
    Invoice.objects.select_for_update().get(pk=payment.invoice_id)
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    refundable = payment.amount - payment.amount_refunded
    if str(amount.currency) != str(payment.currency) or not 0 < amount.amount <= refundable.amount:
        raise RefundNotPossible(f"The refund must be more than zero and at most {refundable}.")
    if not reason.strip():
        raise RefundNotPossible("Give the reason for the refund.")
    if payment.status != Payment.Status.HELD:
        credit_note_issue(invoice_id=payment.invoice_id, amount=amount, reason=reason, actor=actor)
    payment.amount_refunded = payment.amount_refunded + amount
    if payment.amount_refunded == payment.amount:
        payment.status = Payment.Status.REFUNDED
    elif payment.status != Payment.Status.HELD:
        payment.status = Payment.Status.PARTIALLY_REFUNDED
    payment.save(update_fields=["amount_refunded", "status"])
    audit_record(
        action=AuditAction.PAYMENT_REFUNDED,
        actor=actor,
        customer=payment.customer,
        target=payment,
        details={"amount": str(amount), "reason": reason.strip(), "via": "record"},
    )
    return payment
