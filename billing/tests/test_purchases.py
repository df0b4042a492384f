"""Buying account credit through a gateway; overpayments and refunds to credit.

Stripe's HTTP API is mocked with `responses` in the documented shapes (payments tests)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.tests.factories import UserFactory
from billing import services as billing_services
from billing.services import billing_run, payment_record
from billing_portal.common.audit import AuditEvent
from billing_portal.common.testing import usd
from catalogue.models import TaxRate
from credits import services
from credits.audit import CreditAudit
from credits.errors import CreditsError
from credits.models import CreditEntry
from invoices import services as invoice_services
from invoices.models import Invoice, InvoiceNotice
from payments.models import Payment
from payments.tests import stripe_events as se

pytestmark = pytest.mark.django_db

API = "https://api.stripe.com/v1"


def _session(invoice, *, cents: int, status="paid", session_id="cs_credit_1") -> dict:
    return {
        "id": session_id,
        "object": "checkout.session",
        "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        "payment_status": status,
        "status": "complete" if status == "paid" else "open",
        "payment_intent": f"pi_{session_id}",
        "amount_total": cents,
        "currency": "usd",
        "client_reference_id": str(invoice.pk),
        "metadata": {"invoice_id": str(invoice.pk)},
    }


def _mock_checkout(mocked, *, session_id="cs_credit_1") -> None:
    """Stripe answers the checkout start for whichever invoice the view just issued."""
    mocked.post(f"{API}/customers", json={"id": "cus_1", "object": "customer"})

    def create(request):
        invoice = Invoice.objects.order_by("-pk").first()
        cents = int(invoice.amount_due.amount * 100)
        import json

        return (
            200,
            {},
            json.dumps(_session(invoice, cents=cents, status="unpaid", session_id=session_id)),
        )

    mocked.add_callback("POST", f"{API}/checkout/sessions", callback=create)


def _buy(client, url_name: str, **data) -> object:
    return client.post(reverse(url_name), {"gateway": "stripe", **data})


def _come_back(client, mocked, invoice, *, session_id="cs_credit_1") -> object:
    cents = int(invoice.amount_due.amount * 100)
    mocked.get(
        f"{API}/checkout/sessions/{session_id}",
        json=_session(invoice, cents=cents, session_id=session_id),
    )
    return client.get(reverse("payments:stripe_return"), {"session_id": session_id}, follow=True)


@pytest.fixture
def stripe_on(stripe_settings, mocked):
    return mocked


def test_buying_credit_with_a_preset_adds_it_once_whoever_reports_the_payment(
    client, customer, stripe_on
):
    TaxRate.objects.create(country=customer.country, rate=Decimal("20"), name="VAT")
    _mock_checkout(stripe_on)
    client.force_login(customer.user)
    page = client.get(reverse("credits:overview")).content.decode()
    assert 'name="preset" value="25"' in page

    response = _buy(client, "credits:buy_credit", preset="25")
    assert response.status_code == 302
    assert response.url == "https://checkout.stripe.com/c/pay/cs_credit_1"
    invoice = Invoice.objects.get(kind=Invoice.Kind.CREDIT_PURCHASE)
    # prepaid credit is not taxed: the invoices it pays are
    assert (invoice.total, invoice.tax_total) == (usd("25.00"), usd("0"))

    # the return page, then both webhooks Stripe sends, then reconciliation's re-record
    _come_back(client, stripe_on, invoice)
    for event in (
        se.event("checkout.session.completed", _session(invoice, cents=2500)),
        se.event(
            "payment_intent.succeeded",
            se.payment_intent(invoice.pk, amount=2500, pi="pi_cs_credit_1"),
        ),
    ):
        body, headers = se.signed(event)
        client.post("/webhooks/stripe/", body, content_type="application/json", **headers)
    payment_record(
        invoice_id=invoice.pk, gateway="stripe", reference="pi_cs_credit_1", amount=usd("25.00")
    )

    assert Payment.objects.count() == 1
    entry = CreditEntry.objects.get()
    assert (entry.kind, entry.amount) == (CreditEntry.Kind.PURCHASE, usd("25.00"))
    assert services.credit_balance(customer=customer, currency="USD") == usd("25.00")
    assert AuditEvent.objects.filter(action=CreditAudit.CREDIT_PURCHASED).count() == 1


def test_a_typed_amount_within_bounds_is_bought(client, customer, stripe_on):
    _mock_checkout(stripe_on)
    client.force_login(customer.user)
    _buy(client, "credits:buy_credit", amount=" 1000 ")
    assert Invoice.objects.get().total == usd("1000.00")


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "more than zero"),
        ("-5", "more than zero"),
        ("abc", "is not an amount"),
        ("NaN", "is not an amount"),
        ("1e3x", "is not an amount"),
        ("1000.01", "at most 1000 USD"),
        ("0.50", "at least 1 USD"),
        ("5.001", "at most two decimals"),
        ("", "Enter the amount"),
    ],
)
def test_bad_amounts_are_refused_with_a_message_and_change_nothing(
    client, customer, stripe_on, amount, message
):
    client.force_login(customer.user)
    response = _buy(client, "credits:buy_credit", amount=amount)
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    assert message in page
    assert Invoice.objects.count() == 0
    assert len(stripe_on.calls) == 0


@pytest.mark.parametrize("url_name", ["credits:buy_credit", "credits:buy_tokens"])
@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("1e308", "is not an amount"),  # answered 500 (decimal overflow on rounding)
        ("9" * 400, "at most 1000"),
        ("1E+3", "is not an amount"),
        ("\u0661\u0662\u0663", "is not an amount"),  # Arabic-Indic digits: not an amount here
        ("Infinity", "is not an amount"),
        ("\x00", "is not an amount"),
    ],
)
def test_huge_and_foreign_amounts_are_refused_on_both_purchase_forms(
    client, customer, stripe_on, url_name, amount, message
):
    client.force_login(customer.user)
    response = _buy(client, url_name, amount=amount)
    assert response.status_code == 302
    assert message in client.get(response.url).content.decode()
    assert Invoice.objects.count() == 0
    assert len(stripe_on.calls) == 0


def test_bounds_are_settings(client, customer, stripe_on, settings):
    settings.CREDITS_PURCHASE_MAX = Decimal("50")
    client.force_login(customer.user)
    response = _buy(client, "credits:buy_credit", amount="60")
    assert "at most 50 USD" in client.get(response.url).content.decode()


def test_an_unknown_payment_method_is_refused(client, customer, stripe_on):
    client.force_login(customer.user)
    response = _buy(client, "credits:buy_credit", amount="10", gateway="bitcoin")
    assert "Choose a payment method" in client.get(response.url).content.decode()
    assert Invoice.objects.count() == 0


def test_without_gateways_no_purchase_is_offered(client, customer, settings):
    settings.STRIPE_SECRET_KEY = ""
    client.force_login(customer.user)
    page = client.get(reverse("credits:overview")).content.decode()
    assert "Online payment is not available right now" in page


def test_credit_cannot_buy_credit(customer):
    services.credit_entry_append(
        customer=customer, amount=usd("50"), kind="admin_add", idempotency_key="gift"
    )
    invoice = billing_services.credit_purchase_start(
        customer=customer, amount=usd("10"), actor=None
    )
    with pytest.raises(CreditsError, match="cannot be bought with account credit"):
        billing_services.credit_pay_invoice(
            customer=customer, invoice_id=invoice.pk, idempotency_key="k"
        )
    assert services.credit_balance(customer=customer, currency="USD") == usd("50")


def test_unpaid_purchases_get_no_reminders_or_fees_and_are_cancelled(customer, settings):
    settings.BILLING_LATE_FEE_AFTER_DAYS = 1
    invoice = billing_services.credit_purchase_start(
        customer=customer, amount=usd("10"), actor=None
    )
    start = invoice.due_date
    billing_run(today=start + timedelta(days=3))
    assert InvoiceNotice.objects.count() == 0
    assert Invoice.objects.count() == 1  # no late fee invoice
    run = billing_run(
        today=start + timedelta(days=settings.BILLING_CANCEL_UNPAID_ORDERS_AFTER_DAYS)
    )
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.CANCELLED
    assert run.counts["purchases_cancelled"] == 1


# --- refunds to credit --------------------------------------------------------------------


def _paid_invoice(customer, amount="60.00") -> tuple[Invoice, Payment]:
    line = invoice_services.LineDraft(kind="manual", description="x", unit_price=usd(amount))
    draft = invoice_services.invoice_create_draft(customer=customer, currency="USD", lines=[line])
    invoice = billing_services.invoice_issue(invoice_id=draft.pk)
    payment = payment_record(
        invoice_id=invoice.pk, gateway="stripe", reference="pi_9", amount=usd(amount)
    )
    return invoice, payment


def test_staff_refund_a_payment_to_account_credit_once_per_form(client, customer):
    invoice, payment = _paid_invoice(customer)
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    url = reverse("admin:payments_payment_credit_refund", args=[payment.pk])
    assert 'name="request_key"' in client.get(url).content.decode()
    form = {"amount": "20.00", "reason": "Outage credit", "request_key": "form-1"}
    for _ in range(2):  # a double submission
        response = client.post(url, form)
        assert response.status_code == 302
    entry = CreditEntry.objects.get()
    assert (entry.kind, entry.amount) == (CreditEntry.Kind.REFUND_TO_CREDIT, usd("20.00"))
    assert (entry.staff_user, entry.reason) == (staff, "Outage credit")
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.amount_refunded == usd("20.00")
    assert invoice.credit_notes.get().amount == usd("20.00")


@pytest.mark.parametrize(("amount", "reason"), [("60.01", "Too much"), ("5", " ")])
def test_bad_refunds_to_credit_change_nothing(client, customer, amount, reason):
    _, payment = _paid_invoice(customer)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = reverse("admin:payments_payment_credit_refund", args=[payment.pk])
    response = client.post(url, {"amount": amount, "reason": reason, "request_key": "k"})
    assert response.status_code == 200
    assert CreditEntry.objects.count() == 0
    payment.refresh_from_db()
    assert payment.amount_refunded == usd("0")
