"""The credit account lock takes the account row only, so paying with credit never deadlocks
with a card payment for the same invoice (PostgreSQL).

A payment row, an audit event or any other row that refers to the customer makes
PostgreSQL take a KEY SHARE lock on the customer row for its foreign-key check. A credit
lock that also locked the customer row (the model's ordering by customer once joined it
into the FOR UPDATE) made that check wait, and with the invoice lock held in the other
order the two transactions deadlocked."""

from __future__ import annotations

import json

import psycopg
import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from djmoney.money import Money

from accounts.tests.factories import CustomerFactory
from billing.services import webhook_event_process
from billing_portal.common.testing import database_url_for_tests, errors_of, run_together
from credits import services
from credits.models import CreditEntry
from invoices.models import Invoice
from payments.models import Payment, WebhookEvent
from payments.tests import stripe_events as se

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 40


def _dsn() -> str:
    db = connection.settings_dict
    return (
        f"postgresql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


def test_the_credit_lock_leaves_the_customer_row_free_for_foreign_key_checks():
    customer = CustomerFactory()
    services.credit_entry_append(
        customer=customer, amount=Money(5, "USD"), kind="admin_add", idempotency_key="fund"
    )
    other = psycopg.connect(database_url_for_tests(scheme="postgresql"))
    try:
        with transaction.atomic():
            services.credit_account_lock(customer, "USD")
            # what a foreign-key check on the customer does, from another transaction
            other.execute(
                "SELECT 1 FROM accounts_customer WHERE id = %s FOR KEY SHARE NOWAIT",
                [customer.pk],
            )
    finally:
        other.rollback()
        other.close()


def test_paying_with_credit_while_the_card_webhook_is_processed_never_fails(invoice_factory):
    """Race the client-area "use account credit" button against a Stripe webhook paying
    the same invoice: every request ends in a page, every event is processed, and the
    invoice is paid exactly once over."""
    outcomes = []
    for round_ in range(ROUNDS):
        customer = CustomerFactory()
        services.credit_entry_append(
            customer=customer, amount=Money(10, "USD"), kind="admin_add", idempotency_key="fund"
        )
        invoice = invoice_factory(customer, amount="10.00", description="x")
        payload = se.event(
            "payment_intent.succeeded",
            se.payment_intent(invoice.pk, amount=1000, pi=f"pi_{round_}"),
        )
        event = WebhookEvent.objects.create(
            provider="stripe",
            event_id=payload["id"],
            event_type=payload["type"],
            body=json.dumps(payload),
        )
        browser = Client(raise_request_exception=False)
        browser.force_login(customer.user)

        def pay_with_credit(browser=browser, invoice=invoice):
            return browser.post(
                reverse("credits:pay_invoice", args=[invoice.pk]), {"nonce": "n"}
            ).status_code

        def process(event=event):
            return webhook_event_process(webhook_event_id=event.pk).status

        outcomes.append(run_together([pay_with_credit, process]))
        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.PAID
        assert invoice.amount_paid == Money(10, "USD")
    assert errors_of(o for pair in outcomes for o in pair) == []
    assert [pair[0] for pair in outcomes] == [302] * ROUNDS
    assert [pair[1] for pair in outcomes] == ["processed"] * ROUNDS
    # each invoice was paid once; the payment that came second is held for staff (not
    # applied) or the credit was not taken at all
    for customer_payments in Payment.objects.values_list("invoice_id", "status"):
        assert customer_payments[1] in ("applied", "held")
    assert CreditEntry.objects.filter(kind="invoice_payment").count() <= ROUNDS
