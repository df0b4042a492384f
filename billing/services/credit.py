"""Paying an invoice with account credit: the credit debit (credits' ledger) and the payment
(billing.services.payments, which settles the invoice) commit together.

Lock order across apps: credit account, then invoice, then payment (DESIGN.md).
"""

from __future__ import annotations

import functools
import logging

from django.conf import settings
from django.db import transaction
from djmoney.money import Money

from accounts.models import Customer, User
from billing.services.payments import payment_record
from billing_portal.common.db import retry_on_conflict
from billing_portal.common.request import RequestMeta
from credits.errors import CreditsError, InsufficientCredit
from credits.models import CreditAccount, CreditEntry
from credits.services import credit_account_lock, credit_balance, credit_entry_append
from invoices.locks import invoice_lock
from invoices.models import Invoice
from payments.models import Payment

logger = logging.getLogger(__name__)


@retry_on_conflict
@transaction.atomic
def credit_pay_invoice(
    *,
    customer: Customer,
    invoice_id: int,
    idempotency_key: str,
    limit: Money | None = None,
    actor: User | None = None,
    meta: RequestMeta | None = None,
) -> CreditEntry:
    """Pay as much of an unpaid invoice as the credit (and `limit`) allows; the rest can be
    paid another way. The credit debit and the payment commit together."""
    invoice = Invoice.objects.get(pk=invoice_id, customer=customer)
    if invoice.kind == Invoice.Kind.CREDIT_PURCHASE:
        raise CreditsError("Account credit cannot be bought with account credit.")
    currency = str(invoice.currency)
    account = credit_account_lock(customer, currency)  # account first, then the invoice
    existing = account.entries.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    invoice = invoice_lock(invoice_id)
    if invoice.status != Invoice.Status.UNPAID:
        raise CreditsError("This invoice has nothing left to pay.")
    pay = min(invoice.amount_due, account.balance, *([limit] if limit is not None else []))
    if pay.amount <= 0:
        raise InsufficientCredit("There is no account credit to use.")
    entry = credit_entry_append(
        customer=customer,
        amount=-pay,
        kind=CreditEntry.Kind.INVOICE_PAYMENT,
        idempotency_key=idempotency_key,
        description=f"Payment of invoice {invoice.number}",
        payment_reference=invoice.number or "",
    )
    payment_record(
        invoice_id=invoice.pk,
        gateway="credit",
        reference=f"credit-entry-{entry.pk}",
        amount=pay,
        method=Payment.Method.CREDIT,
        actor=actor,
        meta=meta,
    )
    return entry


def credit_auto_apply(invoice_id: int) -> None:
    """A newly issued renewal is paid from available credit when the site and the customer
    allow it (after the issuing transaction commits; see billing.services.issuing)."""
    invoice = Invoice.objects.select_related("customer").get(pk=invoice_id)
    if (
        invoice.kind != Invoice.Kind.RENEWAL
        or not settings.CREDITS_AUTO_APPLY
        or not invoice.customer.credit_auto_apply
        or credit_balance(customer=invoice.customer, currency=str(invoice.currency)).amount <= 0
    ):
        return
    try:
        credit_pay_invoice(
            customer=invoice.customer,
            invoice_id=invoice.pk,
            idempotency_key=f"invoice:{invoice.pk}:auto-apply",
        )
    except CreditsError:
        logger.info("no credit applied to %s", invoice)


def credit_pay_invoice_if_covered(
    *, customer: Customer, invoice_id: int, actor: User | None = None
) -> bool:
    """Pay the whole invoice from account credit now if the balance covers it (what the
    customer chose by buying with credit, e.g. a DNS plan); else leave it unpaid for the
    usual reminders. Its own transaction, after the one that issued the invoice (the lock
    order puts the credit account first). True if paid."""
    invoice = Invoice.objects.get(pk=invoice_id, customer=customer)
    if invoice.status != Invoice.Status.UNPAID:
        return invoice.status == Invoice.Status.PAID
    balance = credit_balance(customer=customer, currency=str(invoice.currency))
    if balance < invoice.amount_due:
        return False
    try:
        credit_pay_invoice(
            customer=customer,
            invoice_id=invoice.pk,
            idempotency_key=f"invoice:{invoice.pk}:pay-now",
            limit=invoice.amount_due,
            actor=actor,
        )
    except CreditsError:  # spent meanwhile, or paid another way: the invoice says which
        logger.info("credit did not pay %s", invoice)
    invoice.refresh_from_db()
    return invoice.status == Invoice.Status.PAID


def credit_auto_apply_many(invoices: list[Invoice]) -> int:
    """`credit_auto_apply` for a batch of newly issued renewals (the billing run's chunk),
    offered only to the customers who hold credit in the invoice's currency: one query finds
    them, so the thousands without credit cost nothing more. Each offer runs after the
    issuing transaction commits, as `invoice_issued` does; returns how many were offered."""
    unpaid = [
        invoice
        for invoice in invoices
        if invoice.status == Invoice.Status.UNPAID
        and invoice.kind == Invoice.Kind.RENEWAL
        and invoice.customer.credit_auto_apply
    ]
    if not settings.CREDITS_AUTO_APPLY or not unpaid:
        return 0
    holders = set(
        CreditAccount.objects.filter(
            customer_id__in={invoice.customer_id for invoice in unpaid}, balance__gt=0
        ).values_list("customer_id", "currency")
    )
    offered = [i.pk for i in unpaid if (i.customer_id, str(i.currency)) in holders]
    for invoice_id in offered:
        transaction.on_commit(functools.partial(credit_auto_apply, invoice_id), robust=True)
    return len(offered)
