"""Dunning at the card: the schedule of off-session renewal charge tries, and the notice of
a saved card about to expire.

A renewal is charged on its due date; when that fails it is tried again on each day of
DUNNING_RETRY_DAYS after the due date, each try its own attempt row (unique per invoice and
try number) whose Stripe idempotency key is made of the invoice and the try number. After a
missed day only the latest try whose day has come is made, never a burst of older ones, and
no try is made once a service the invoice bills is suspended (the customer pays on-session
then, which also unsuspends it).
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Exists, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.urls import reverse

from accounts.locks import customers_lock
from billing_portal.common.audit import audit_event, audit_record_many
from billing_portal.common.outbox import outbox_enqueue_many
from invoices.models import Invoice, InvoiceLine
from payments.audit import PaymentAudit
from payments.models import SavedPaymentMethod
from provisioning.models import Service

# A try is not made for a renewal billing a service in one of these states.
NOT_CHARGED = (Service.Status.SUSPENDED, Service.Status.TERMINATED, Service.Status.CANCELLED)
# A card is announced as expiring this many days before the end of its expiry month.
CARD_EXPIRY_NOTICE_DAYS = 30


def charge_offsets() -> list[int]:
    """Days after the due date of each try, in order: the due date, then the retries."""
    return [0, *settings.DUNNING_RETRY_DAYS]


def charge_try_due(*, due: date, today: date) -> int | None:
    """The number (from 1) of the latest try whose day has come by `today`, if any."""
    overdue = (today - due).days
    came = [number for number, days in enumerate(charge_offsets(), start=1) if overdue >= days]
    return came[-1] if came else None


def charge_try_day(*, due: date, number: int) -> date | None:
    """The day of try `number`, None when the schedule has no such try."""
    offsets = charge_offsets()
    return due + timedelta(days=offsets[number - 1]) if number <= len(offsets) else None


def try_number_today(today: date) -> Case:
    """`charge_try_due` in SQL, for an invoice's `due_date`: the latest try whose day came."""
    whens = [
        When(due_date__lte=today - timedelta(days=days), then=Value(number))
        for number, days in reversed(list(enumerate(charge_offsets(), start=1)))
    ]
    return Case(*whens, default=Value(0), output_field=IntegerField())


def not_charged_service() -> Exists:
    """The invoice (OuterRef pk) bills a suspended or ended service: no more tries."""
    return Exists(
        InvoiceLine.objects.filter(invoice=OuterRef("pk"), service__status__in=NOT_CHARGED)
    )


def invoice_bills_stopped_service(invoice: Invoice) -> bool:
    return InvoiceLine.objects.filter(invoice=invoice, service__status__in=NOT_CHARGED).exists()


# --- Cards about to expire ----------------------------------------------------------------


def _expiring_months(today: date) -> list[tuple[int, int]]:
    """(year, month) of the expiries whose last day falls in the next 30 days (cards are
    valid to the end of their expiry month)."""
    horizon = today + timedelta(days=CARD_EXPIRY_NOTICE_DAYS)
    months = {(today.year, today.month), (horizon.year, horizon.month)}
    return sorted(
        (year, month)
        for year, month in months
        if today <= date(year, month, calendar.monthrange(year, month)[1]) <= horizon
    )


def _expiry_key(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def cards_expiring_due(*, today: date) -> QuerySet[SavedPaymentMethod]:
    """Saved cards expiring within 30 days whose customer was not told about this expiry."""
    wanted = Q(pk__in=[])
    for year, month in _expiring_months(today):
        wanted |= Q(exp_year=year, exp_month=month) & ~Q(expiry_noticed=_expiry_key(year, month))
    return SavedPaymentMethod.objects.filter(wanted)


@transaction.atomic
def card_expiry_notices_send(*, today: date) -> int:
    """Email each customer whose saved card expires within 30 days, once per card and
    expiry: their customers are locked (what a customer holds is serialised on its row; a
    concurrent run waits), the due cards read again under the lock (the other run's marks
    are committed by then), marked, audited and their emails queued in the outbox, a few
    statements for any number. Returns how many notices went out."""
    due = cards_expiring_due(today=today)
    customers_lock(customer_ids=list(due.values_list("customer_id", flat=True).distinct()))
    cards = list(due.select_related("customer__user").order_by("pk"))
    for year, month in _expiring_months(today):
        SavedPaymentMethod.objects.filter(
            pk__in=[c.pk for c in cards], exp_year=year, exp_month=month
        ).update(expiry_noticed=_expiry_key(year, month))
    audit_record_many(
        [
            audit_event(
                action=PaymentAudit.CARD_EXPIRY_NOTICE,
                customer=card.customer,
                target=card,
                details={"card": str(card), "expires": f"{card.exp_month:02d}/{card.exp_year}"},
            )
            for card in cards
        ]
    )
    outbox_enqueue_many(
        "common.email_send",
        [
            {
                "to": [card.customer.user.email],
                "name": "card_expiring",
                "context": {
                    "customer_name": card.customer.name,
                    "card": str(card),
                    "expires": f"{card.exp_month:02d}/{card.exp_year}",
                    "cards_path": reverse("payments:card_list"),
                },
            }
            for card in cards
        ],
    )
    return len(cards)
