"""The payment receipt: an email for every applied payment, with its invoice attached as
PDF (invoices/documents.py). Queued through the outbox with the payment (so it exists exactly
when the payment committed) and rendered by the worker (`payments.payment_receipt_send`),
off the payment's transaction: the PDF then shows the invoice as the payment left it."""

from __future__ import annotations

from accounts.email_preferences import OptionalEmail, email_wanted
from billing_portal.common.emails import email_send
from billing_portal.common.outbox import outbox_enqueue
from invoices.documents import invoice_pdf_filename, invoice_render_pdf
from payments.models import Payment

RECEIPT_TASK = "payments.payment_receipt_send"
EMAIL = "payment_receipt"


def payment_receipt_queue(payment: Payment) -> None:
    """In the payment's transaction: queue its receipt, unless the customer opted out.
    Once per payment (the outbox dedupes on it)."""
    if not email_wanted(customer=payment.customer, kind=OptionalEmail.PAYMENT_RECEIPT):
        return
    outbox_enqueue(
        RECEIPT_TASK, kwargs={"payment_id": payment.pk}, dedupe_key=f"receipt:{payment.pk}"
    )


def payment_receipt_send(*, payment_id: int) -> bool:
    """Render and send the receipt now (the task calls it once per outbox message). Returns
    False when the payment is gone (nothing to send)."""
    payment = (
        Payment.objects.select_related("invoice", "customer__user").filter(pk=payment_id).first()
    )
    if payment is None:
        return False
    invoice = payment.invoice
    pdf = invoice_render_pdf(invoice)
    email_send(
        to=[payment.customer.user.email],
        name=EMAIL,
        context={
            "customer_name": payment.customer.name,
            "number": invoice.number,
            "invoice_path": f"/invoices/{invoice.pk}/",
            "amount": str(payment.amount),
            "gateway": payment.gateway,
            "reference": payment.reference,
            "received_at": payment.received_at.strftime("%Y-%m-%d %H:%M UTC"),
            "balance_due": str(invoice.amount_due),
        },
        attachments=[(invoice_pdf_filename(invoice), pdf, "application/pdf")],
    )
    return True
