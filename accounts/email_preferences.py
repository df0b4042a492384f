"""Which optional emails a customer gets: the kinds here can be switched off in the client
area (accounts/views_email_preferences.py); everything else (security notices, invoices,
reminders, payment problems) is always sent. Apps that send an optional email ask
`email_wanted` first, when they queue it."""

from __future__ import annotations

from enum import StrEnum

from django.db import transaction

from accounts.locks import customer_lock
from accounts.models import Customer, EmailPreferences


class OptionalEmail(StrEnum):
    """An optional kind of email: the `EmailPreferences` field that switches it."""

    PAYMENT_RECEIPT = "payment_receipts"
    ACCOUNT_UPDATE = "account_updates"


PREFERENCE_FIELDS = tuple(kind.value for kind in OptionalEmail)


def email_preferences_of(*, customer: Customer) -> EmailPreferences:
    """The customer's preferences, the defaults (unsaved) when they never chose."""
    found = EmailPreferences.objects.filter(customer=customer).first()
    return found or EmailPreferences(customer=customer)


def email_wanted(*, customer: Customer, kind: OptionalEmail) -> bool:
    return bool(getattr(email_preferences_of(customer=customer), kind.value))


@transaction.atomic
def email_preferences_update(*, customer: Customer, values: dict[str, bool]) -> EmailPreferences:
    """Save the customer's choice (only the known switches are read); idempotent. Under the
    customer's lock, so two saves at once make one row."""
    customer_lock(customer.pk)
    preferences, _ = EmailPreferences.objects.get_or_create(customer=customer)
    for field in PREFERENCE_FIELDS:
        if field in values:
            setattr(preferences, field, bool(values[field]))
    preferences.save()
    return preferences
