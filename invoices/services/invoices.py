"""Invoice writes: drafts, issuing (numbering, frozen details), payment and cancellation.

Every function owns its transaction and locks the invoice row before checking its status
against INVOICE_TRANSITIONS, so two concurrent callers cannot both move one invoice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from djmoney.money import Money

from accounts.models import Customer, User
from billing_portal.common.audit import audit_record
from billing_portal.common.emails import email_send_on_commit
from billing_portal.common.webhooks import WebhookEventType, webhook_emit
from catalogue.models import Coupon, Order
from invoices.audit import InvoiceAudit
from invoices.errors import InvalidInvoiceTransition, InvoiceNotEditable, InvoicesError
from invoices.locks import invoice_lock, invoice_number_sequence_take
from invoices.models import (
    INVOICE_TRANSITIONS,
    CreditNote,
    Invoice,
    InvoiceLine,
    seller_details_from_settings,
)
from invoices.pricing import LineAmounts, Totals, allocate, line_amounts, percent_of, totals_of
from invoices.tax import TaxTreatment, tax_treatment_for

INVOICE_SERIES = "invoice"


@dataclass(frozen=True)
class LineDraft:
    """A line to bill, priced as catalogued (tax-inclusive if the site's prices are)."""

    kind: str
    description: str
    unit_price: Money
    quantity: Decimal = Decimal("1")
    discount: Money | None = None
    service_id: int | None = None
    period_start: date | None = None
    period_end: date | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Prepaid account credit is not taxed when bought: the invoices it pays are taxed.
    taxable: bool = True


UNTAXED = TaxTreatment(name="", rate=Decimal(0), location_rate=Decimal(0))


def invoice_assert_transition(invoice: Invoice, *, to: str) -> None:
    if to not in INVOICE_TRANSITIONS[invoice.status]:
        raise InvalidInvoiceTransition(
            f"Invoice {invoice} is {invoice.get_status_display().lower()} and cannot become "
            f"{Invoice.Status(to).label.lower()}."
        )


def _lock(invoice_id: int) -> Invoice:
    return invoice_lock(invoice_id, related=("customer__user",))


@dataclass(frozen=True)
class PricedLines:
    tax: TaxTreatment
    prices_include_tax: bool
    amounts: list[LineAmounts]
    totals: Totals

    def invoice_fields(self, currency: str) -> dict[str, Any]:
        """The invoice's totals and frozen tax details (nothing paid or refunded yet)."""
        tax, totals = self.tax, self.totals
        return {
            "currency": currency,
            "subtotal": totals.subtotal,
            "discount_total": totals.discount_total,
            "tax_total": totals.tax_total,
            "total": totals.total,
            "amount_paid": Money(0, currency),
            "amount_refunded": Money(0, currency),
            "prices_include_tax": self.prices_include_tax,
            "tax_name": tax.name,
            "tax_rate": tax.rate,
            "reverse_charge": tax.reverse_charge,
            "tax_note": tax.note,
        }

    def invoice_lines(
        self, invoice: Invoice, drafts: list[LineDraft], currency: str
    ) -> list[InvoiceLine]:
        """The invoice's line rows (unsaved), in the drafts' order, as priced."""
        return [
            InvoiceLine(
                invoice=invoice,
                kind=draft.kind,
                description=draft.description,
                service_id=draft.service_id,
                period_start=draft.period_start,
                period_end=draft.period_end,
                quantity=draft.quantity,
                currency=currency,
                unit_price=draft.unit_price,
                amount=amounts.amount,
                discount=amounts.discount,
                tax=amounts.tax,
                total=amounts.total,
                position=position,
            )
            for position, (draft, amounts) in enumerate(zip(drafts, self.amounts, strict=True))
        ]


def lines_price(
    *,
    customer: Customer,
    currency: str,
    lines: list[LineDraft],
    tax: TaxTreatment | None = None,
) -> PricedLines:
    """Tax and amounts of lines for this customer: the one place quotes and invoices share,
    so a customer pays exactly what the review page showed. `tax`: the customer's treatment
    when the caller looked it up already (`TaxRates.treatment_for`, for a batch)."""
    tax = tax or tax_treatment_for(customer)
    include = settings.TAX_PRICES_INCLUDE_TAX
    amounts = [
        line_amounts(
            quantity=draft.quantity,
            unit_price=draft.unit_price,
            discount=draft.discount or Money(0, currency),
            tax=tax if draft.taxable else UNTAXED,
            prices_include_tax=include,
        )
        for draft in lines
    ]
    return PricedLines(tax, include, amounts, totals_of(amounts, currency))


def coupon_apply(lines: list[LineDraft], coupon: Coupon | None) -> list[LineDraft]:
    """The lines with the coupon's discount set on each (percent per line, fixed amounts
    allocated across them)."""
    if coupon is None:
        return lines
    listed = [line.unit_price * line.quantity for line in lines]
    if coupon.kind == Coupon.Kind.PERCENT:
        percent = coupon.percent
        if percent is None:  # a check constraint gives every percent coupon its percent
            raise ValueError(f"Coupon {coupon.pk} is a percent coupon without a percent.")
        discounts = [percent_of(amount, percent) for amount in listed]
    else:
        discounts = allocate(coupon.amount, listed)
    return [
        LineDraft(**{**line.__dict__, "discount": discount})
        for line, discount in zip(lines, discounts, strict=True)
    ]


@transaction.atomic
def invoice_create_draft(
    *,
    customer: Customer,
    currency: str,
    lines: list[LineDraft],
    kind: str = Invoice.Kind.MANUAL,
    order: Order | None = None,
    due_date: date | None = None,
    notes: str = "",
) -> Invoice:
    """Price the lines for this customer (tax, discounts) and store a draft invoice."""
    priced = lines_price(customer=customer, currency=currency, lines=lines)
    invoice = Invoice.objects.create(
        customer=customer,
        order=order,
        kind=kind,
        due_date=due_date,
        notes=notes,
        **priced.invoice_fields(currency),
    )
    InvoiceLine.objects.bulk_create(priced.invoice_lines(invoice, lines, currency))
    return invoice


def invoice_number_allocate(*, series: str, number_format: str, on: date) -> tuple[int, str]:
    """Take the next number of a series. Call inside the issuing transaction: the counter row
    stays locked until it commits, so concurrent issuers queue and a rollback returns the
    number, which keeps the series free of gaps and duplicates."""
    (taken,) = invoice_numbers_allocate(series=series, number_format=number_format, on=on, count=1)
    return taken


def invoice_numbers_allocate(
    *, series: str, number_format: str, on: date, count: int
) -> list[tuple[int, str]]:
    """Take the next `count` numbers of a series in one statement (as
    `invoice_number_allocate`, for a batch of invoices issued together)."""
    if count <= 0:
        return []
    first = invoice_number_sequence_take(series, count)
    return [
        (number, number_format.format(number=number, year=on.year, month=on.month))
        for number in range(first, first + count)
    ]


def buyer_details(customer: Customer) -> dict[str, str]:
    return {
        "name": customer.name,
        "company": customer.company,
        "email": customer.user.email,
        "address_line1": customer.address_line1,
        "address_line2": customer.address_line2,
        "city": customer.city,
        "region": customer.region,
        "postal_code": customer.postal_code,
        "country": customer.country.code,
        "tax_id": customer.tax_id,
    }


@transaction.atomic
def invoice_issue(
    *, invoice_id: int, actor: User | None = None, now: datetime | None = None
) -> Invoice:
    """Number the draft, freeze seller and buyer details, make it payable, email it. A zero
    total is paid at once: the caller (billing) sees it paid and settles it in this
    transaction."""
    now = now or timezone.now()
    invoice = _lock(invoice_id)
    invoice_assert_transition(invoice, to=Invoice.Status.UNPAID)
    sequence_number, number = invoice_number_allocate(
        series=INVOICE_SERIES, number_format=settings.INVOICE_NUMBER_FORMAT, on=now.date()
    )
    invoice.series, invoice.sequence_number, invoice.number = (
        INVOICE_SERIES,
        sequence_number,
        number,
    )
    invoice.status = Invoice.Status.UNPAID
    invoice.issued_at = now
    invoice.due_date = invoice.due_date or now.date()
    invoice.seller_details = seller_details_from_settings()
    invoice.buyer_details = buyer_details(invoice.customer)
    invoice.save()
    audit_record(
        action=InvoiceAudit.INVOICE_ISSUED,
        actor=actor,
        customer=invoice.customer,
        target=invoice,
        details={"number": number, "total": str(invoice.total)},
    )
    webhook_emit(WebhookEventType.INVOICE_ISSUED, invoice, **invoice_webhook_fields(invoice))
    email_send_on_commit(
        to=[invoice.customer.user.email],
        name="invoice_issued",
        context=invoice_email_context(invoice),
    )
    if invoice.total.amount == 0:  # fully discounted: nothing to pay, so it is paid now
        _settle(invoice, paid_at=now, actor=actor, reference="zero total")
    return invoice


def invoice_webhook_fields(invoice: Invoice) -> dict[str, Any]:
    """What outbound webhooks say about an invoice (billing_portal/common/webhooks.py)."""
    return {
        "customer_id": invoice.customer_id,
        "number": invoice.number,
        "kind": invoice.kind,
        "status": invoice.status,
        "total": invoice.total,
        "amount_due": invoice.amount_due,
        "due_date": invoice.due_date,
        "paid_at": invoice.paid_at,
    }


def invoice_email_context(invoice: Invoice) -> dict[str, str]:
    return {
        "number": invoice.number or "",
        "total": str(invoice.total),
        "due_date": invoice.due_date.isoformat() if invoice.due_date else "",
        "customer_name": invoice.customer.name,
        "invoice_path": f"/invoices/{invoice.pk}/",
    }


def invoice_payment_problem(
    invoice: Invoice, amount: Money, *, allow_excess: bool = False
) -> str | None:
    """Why `amount` cannot be applied to `invoice` now, or None when it can (`allow_excess`:
    the caller credits what is above the amount due). Payments that cannot be applied are
    held for staff review instead of being forced onto the invoice."""
    if invoice.status != Invoice.Status.UNPAID:
        return f"Invoice {invoice} is {invoice.get_status_display().lower()}: nothing is due."
    if str(amount.currency) != str(invoice.currency):
        return f"The payment is in {amount.currency}; invoice {invoice} is in {invoice.currency}."
    if amount.amount <= 0:
        return "A payment must be more than zero."
    if amount > invoice.amount_due and not allow_excess:
        return f"{amount} is more than the {invoice.amount_due} due on invoice {invoice}."
    return None


def _settle(
    invoice: Invoice, *, paid_at: datetime | None, actor: User | None, reference: str
) -> None:
    """Mark a fully paid invoice paid: the one place an invoice becomes paid. What follows
    from it (billing.services.settlement.invoice_settled) is the caller's: the invoice's
    status tells it that this call made the invoice paid."""
    invoice_assert_transition(invoice, to=Invoice.Status.PAID)
    invoice.status = Invoice.Status.PAID
    invoice.paid_at = paid_at or timezone.now()
    invoice.save(update_fields=["status", "paid_at", "amount_paid"])
    audit_record(
        action=InvoiceAudit.INVOICE_PAID,
        actor=actor,
        customer=invoice.customer,
        target=invoice,
        details={"number": invoice.number, "total": str(invoice.total), "reference": reference},
    )
    webhook_emit(WebhookEventType.INVOICE_PAID, invoice, **invoice_webhook_fields(invoice))


@transaction.atomic
def invoice_apply_payment(
    *,
    invoice_id: int,
    amount: Money,
    paid_at: datetime | None = None,
    actor: User | None = None,
    reference: str = "",
) -> Invoice:
    """Add a payment to an unpaid invoice. Partial payments accumulate; the payment that
    completes the total makes it paid, exactly once: the invoice returned is then `paid`
    (it was unpaid before), and the caller settles it in this transaction."""
    invoice = _lock(invoice_id)
    problem = invoice_payment_problem(invoice, amount)
    if problem:
        raise InvoicesError(problem)
    invoice.amount_paid = invoice.amount_paid + amount
    if invoice.amount_paid == invoice.total:
        _settle(invoice, paid_at=paid_at, actor=actor, reference=reference)
    else:
        invoice.save(update_fields=["amount_paid"])
    return invoice


@transaction.atomic
def invoice_mark_paid(
    *,
    invoice_id: int,
    paid_at: datetime | None = None,
    actor: User | None = None,
    reference: str = "",
) -> Invoice:
    """Pay what is due in full. Paying an invoice that is already paid returns it unchanged
    (a retried call is safe). Recorded payments go through payments.services instead."""
    invoice = _lock(invoice_id)
    if invoice.status == Invoice.Status.PAID:
        return invoice
    invoice_assert_transition(invoice, to=Invoice.Status.PAID)
    if invoice.amount_due.amount == 0:
        _settle(invoice, paid_at=paid_at, actor=actor, reference=reference)
        return invoice
    return invoice_apply_payment(
        invoice_id=invoice.pk,
        amount=invoice.amount_due,
        paid_at=paid_at,
        actor=actor,
        reference=reference,
    )


@transaction.atomic
def invoice_cancel(
    *, invoice_id: int, actor: User | None = None, reason: str = "", now: datetime | None = None
) -> Invoice:
    invoice = _lock(invoice_id)
    if invoice.status == Invoice.Status.CANCELLED:
        return invoice
    invoice_assert_transition(invoice, to=Invoice.Status.CANCELLED)
    if invoice.amount_paid.amount > 0:
        raise InvoiceNotEditable(
            "This invoice has payments recorded against it; refund them or issue a credit note."
        )
    invoice.status = Invoice.Status.CANCELLED
    invoice.cancelled_at = now or timezone.now()
    invoice.save(update_fields=["status", "cancelled_at"])
    audit_record(
        action=InvoiceAudit.INVOICE_CANCELLED,
        actor=actor,
        customer=invoice.customer,
        target=invoice,
        details={"number": invoice.number, "reason": reason},
    )
    return invoice


CREDIT_NOTE_SERIES = "credit_note"


@transaction.atomic
def credit_note_issue(
    *, invoice_id: int, amount: Money, reason: str, actor: User | None = None
) -> CreditNote:
    """Credit part or all of a paid invoice, moving it to partially refunded or refunded.

    The invoice itself stays as issued; the credit note is the correction. Refusals change
    nothing: wrong currency, more than is left to credit, no reason, or an unpaid invoice
    (cancel that instead).
    """
    invoice = _lock(invoice_id)
    if not reason.strip():
        raise InvoicesError("Give the reason for the credit note; it is printed on it.")
    if str(amount.currency) != str(invoice.currency):
        raise InvoicesError(
            f"The credit note must be in the invoice's currency, {invoice.currency}."
        )
    creditable = invoice.total - invoice.amount_refunded
    if amount.amount <= 0 or amount > creditable:
        raise InvoicesError(f"The amount must be more than zero and at most {creditable}.")
    refunded = invoice.amount_refunded + amount
    target = (
        Invoice.Status.REFUNDED if refunded == invoice.total else Invoice.Status.PARTIALLY_REFUNDED
    )
    if target != invoice.status:
        invoice_assert_transition(invoice, to=target)
    sequence_number, number = invoice_number_allocate(
        series=CREDIT_NOTE_SERIES,
        number_format=settings.CREDIT_NOTE_NUMBER_FORMAT,
        on=timezone.localdate(),
    )
    note = CreditNote.objects.create(
        invoice=invoice,
        customer=invoice.customer,
        series=CREDIT_NOTE_SERIES,
        sequence_number=sequence_number,
        number=number,
        currency=str(invoice.currency),
        amount=amount,
        reason=reason.strip(),
        seller_details=invoice.seller_details,
        buyer_details=invoice.buyer_details,
        created_by=actor,
    )
    invoice.amount_refunded = refunded
    invoice.status = target
    invoice.save(update_fields=["amount_refunded", "status"])
    audit_record(
        action=InvoiceAudit.CREDIT_NOTE_ISSUED,
        actor=actor,
        customer=invoice.customer,
        target=note,
        details={"invoice": invoice.number, "amount": str(amount), "reason": note.reason},
    )
    email_send_on_commit(
        to=[invoice.customer.user.email],
        name="credit_note_issued",
        context={
            "customer_name": invoice.customer.name,
            "number": number,
            "invoice_number": invoice.number,
            "amount": str(amount),
            "reason": note.reason,
            "invoice_path": f"/invoices/{invoice.pk}/",
        },
    )
    return note
