"""Saved cards (Stripe SetupIntent via Checkout) and off-session renewal charges."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
import responses
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from accounts.tests.helpers import assert_customer_isolation
from billing import services as billing_services
from billing.services import renewals_charge_off_session
from invoices import services as invoice_services
from invoices.models import Invoice
from payments.models import GatewayCustomer, Payment, PaymentAttempt, SavedPaymentMethod
from payments.tests import stripe_events as se

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stripe_settings")]

API = "https://api.stripe.com/v1"


def _pm(pm_id: str, last4: str = "4242") -> dict:
    card = {"brand": "visa", "last4": last4, "exp_month": 4, "exp_year": 2030}
    return {"id": pm_id, "object": "payment_method", "type": "card", "card": card}


def _card(customer, reference="pm_1", *, default=True, last4="4242") -> SavedPaymentMethod:
    GatewayCustomer.objects.get_or_create(
        customer=customer, gateway="stripe", defaults={"reference": "cus_1"}
    )
    return SavedPaymentMethod.objects.create(
        customer=customer,
        gateway="stripe",
        reference=reference,
        brand="visa",
        last4=last4,
        exp_month=4,
        exp_year=2030,
        is_default=default,
    )


def test_customer_saves_a_card_on_stripes_page(client, customer, mocked):
    mocked.post(f"{API}/customers", json={"id": "cus_1", "object": "customer"})
    setup_page = "https://checkout.stripe.com/c/setup"
    session = {"id": "cs_setup", "object": "checkout.session", "url": setup_page}
    mocked.post(f"{API}/checkout/sessions", json=session)
    client.force_login(customer.user)
    response = client.post(reverse("payments:card_add"))
    assert response.url == "https://checkout.stripe.com/c/setup"
    form = {k: v[0] for k, v in parse_qs(mocked.calls[1].request.body).items()}
    assert (form["mode"], form["customer"], form["payment_method_types[0]"]) == (
        "setup",
        "cus_1",
        "card",
    )
    attempt = PaymentAttempt.objects.get(kind="card_setup")
    assert mocked.calls[1].request.headers["Idempotency-Key"] == f"payment-attempt-{attempt.pk}"

    session = {
        "id": "cs_setup",
        "object": "checkout.session",
        "setup_intent": {
            "id": "seti_1",
            "object": "setup_intent",
            "status": "succeeded",
            "payment_method": _pm("pm_1"),
        },
    }
    mocked.get(f"{API}/checkout/sessions/cs_setup", json=session)
    page = client.get(reverse("payments:card_return"), {"session_id": "cs_setup"}, follow=True)
    assert "Visa •••• 4242 is saved." in page.content.decode()
    card = SavedPaymentMethod.objects.get()
    assert (card.customer, card.is_default, card.exp_year) == (customer, True, 2030)
    assert "expand[0]=setup_intent.payment_method" in mocked.calls[-1].request.url.replace(
        "%5B", "["
    ).replace("%5D", "]")


def test_change_default_and_remove_cards(client, customer, mocked):
    first = _card(customer, "pm_1")
    second = _card(customer, "pm_2", default=False, last4="1111")
    mocked.post(f"{API}/customers/cus_1", json={"id": "cus_1", "object": "customer"})
    mocked.post(f"{API}/payment_methods/pm_2/detach", json=_pm("pm_2"))
    client.force_login(customer.user)

    client.post(reverse("payments:card_default", args=[second.pk]))
    form = {k: v[0] for k, v in parse_qs(mocked.calls[0].request.body).items()}
    assert form == {"invoice_settings[default_payment_method]": "pm_2"}
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.is_default, second.is_default) == (False, True)

    client.post(reverse("payments:card_remove", args=[second.pk]))
    assert list(SavedPaymentMethod.objects.values_list("reference", "is_default")) == [
        ("pm_1", True)
    ]


def test_card_actions_are_hidden_from_other_customers(client, customer, other_customer, mocked):
    card = _card(customer)
    mocked.post(f"{API}/customers/cus_1", json={"id": "cus_1", "object": "customer"})
    assert_customer_isolation(
        client,
        urls=[reverse("payments:card_default", args=[card.pk])],
        owner=customer,
        intruder=other_customer,
        method="post",
    )
    mocked.post(f"{API}/payment_methods/pm_1/detach", json=_pm("pm_1"))
    assert_customer_isolation(
        client,
        urls=[reverse("payments:card_remove", args=[card.pk])],
        owner=customer,
        intruder=other_customer,
        method="post",
    )


def test_setup_intent_webhook_stores_the_card(
    client, customer, mocked, django_capture_on_commit_callbacks
):
    GatewayCustomer.objects.create(customer=customer, gateway="stripe", reference="cus_1")
    mocked.get(f"{API}/payment_methods/pm_9", json=_pm("pm_9", last4="0005"))
    intent = {
        "id": "seti_9",
        "object": "setup_intent",
        "status": "succeeded",
        "customer": "cus_1",
        "payment_method": "pm_9",
    }
    body, headers = se.signed(se.event("setup_intent.succeeded", intent))
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/webhooks/stripe/", body, content_type="application/json", **headers)
    assert SavedPaymentMethod.objects.get().last4 == "0005"


# --- off-session renewals -----------------------------------------------------------------


def _renewal(customer, due: date) -> Invoice:
    line = invoice_services.LineDraft(
        kind="service", description="Renewal", unit_price=Money(Decimal("15.00"), "USD")
    )
    draft = invoice_services.invoice_create_draft(
        customer=customer, currency="USD", lines=[line], kind="renewal", due_date=due
    )
    return billing_services.invoice_issue(invoice_id=draft.pk)


def _charge(capture):
    with capture(execute=True):
        return renewals_charge_off_session(today=timezone.localdate())


def test_renewal_is_charged_off_session_once(customer, mocked, django_capture_on_commit_callbacks):
    _card(customer)
    invoice = _renewal(customer, timezone.localdate())
    mocked.post(
        f"{API}/payment_intents",
        json={
            "id": "pi_off",
            "object": "payment_intent",
            "status": "succeeded",
            "amount": 1500,
            "currency": "usd",
        },
    )
    assert _charge(django_capture_on_commit_callbacks) == {"succeeded": 1}
    call = mocked.calls[0]
    form = {k: v[0] for k, v in parse_qs(call.request.body).items()}
    assert form == {
        "amount": "1500",
        "currency": "usd",
        "customer": "cus_1",
        "payment_method": "pm_1",
        "off_session": "true",
        "confirm": "true",
        "metadata[invoice_id]": str(invoice.pk),
    }
    attempt = PaymentAttempt.objects.get(kind="off_session")
    assert call.request.headers["Idempotency-Key"] == f"invoice-{invoice.pk}-off-session-1"
    assert attempt.attempt_number == 1
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert Payment.objects.get().reference == "pi_off"
    assert _charge(django_capture_on_commit_callbacks) == {}
    assert len(mocked.calls) == 1


def test_the_daily_task_queues_one_charge_per_renewal_and_each_charges_once(
    customer, other_customer, mocked, django_capture_on_commit_callbacks
):
    from billing.tasks import invoice_charge_off_session_task, renewals_charge_off_session_task

    invoices = []
    for n, payer in enumerate((customer, other_customer)):
        GatewayCustomer.objects.create(customer=payer, gateway="stripe", reference=f"cus_{n}")
        _card(payer, reference=f"pm_{n}")
        invoices.append(_renewal(payer, timezone.localdate()))
    for n in range(2):
        intent = {"id": f"pi_{n}", "object": "payment_intent", "status": "succeeded"}
        mocked.post(f"{API}/payment_intents", json={**intent, "amount": 1500, "currency": "usd"})
    with django_capture_on_commit_callbacks(execute=True):
        assert renewals_charge_off_session_task.delay().get() == 2  # each its own task, eager
    assert {i.status for i in Invoice.objects.filter(pk__in=[i.pk for i in invoices])} == {"paid"}
    assert Payment.objects.count() == 2
    # a duplicate message of one item finds its attempt finished: no second charge
    assert invoice_charge_off_session_task.delay(invoices[0].pk).get() == "skipped"
    assert renewals_charge_off_session_task.delay().get() == 0
    assert len(mocked.calls) == 2


def test_authentication_required_falls_back_to_an_email(
    customer, mocked, mailoutbox, django_capture_on_commit_callbacks
):
    _card(customer)
    invoice = _renewal(customer, timezone.localdate())
    mailoutbox.clear()
    mocked.post(
        f"{API}/payment_intents",
        status=402,
        json={
            "error": {
                "type": "card_error",
                "code": "authentication_required",
                "message": "This payment requires authentication.",
                "payment_intent": {
                    "id": "pi_sca",
                    "object": "payment_intent",
                    "status": "requires_payment_method",
                },
            }
        },
    )
    assert _charge(django_capture_on_commit_callbacks) == {"authentication_required": 1}
    assert [m.subject for m in mailoutbox] == [
        f"Action needed: confirm the payment of invoice {invoice.number}"
    ]
    assert f"/invoices/{invoice.pk}/" in mailoutbox[0].body
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.UNPAID
    attempt = PaymentAttempt.objects.get(kind="off_session")
    assert (attempt.status, attempt.reference) == ("failed", "pi_sca")
    assert _charge(django_capture_on_commit_callbacks) == {}  # never charged twice


def test_a_declined_card_is_reported_by_email(
    customer, mocked, mailoutbox, django_capture_on_commit_callbacks
):
    _card(customer)
    invoice = _renewal(customer, timezone.localdate())
    mailoutbox.clear()
    mocked.post(
        f"{API}/payment_intents",
        status=402,
        json={
            "error": {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "insufficient_funds",
                "message": "Your card has insufficient funds.",
            }
        },
    )
    assert _charge(django_capture_on_commit_callbacks) == {"declined": 1}
    assert mailoutbox[0].subject == f"Payment of invoice {invoice.number} failed"
    assert "insufficient funds" in mailoutbox[0].body


def test_stripe_down_is_retried_later_with_the_same_key(
    customer, mocked, django_capture_on_commit_callbacks
):
    _card(customer)
    invoice = _renewal(customer, timezone.localdate())
    mocked.post(f"{API}/payment_intents", status=500, json={"error": {"type": "api_error"}})
    assert _charge(django_capture_on_commit_callbacks) == {"retry later": 1}
    mocked.replace(
        responses.POST,
        f"{API}/payment_intents",
        json={"id": "pi_retry", "object": "payment_intent", "status": "succeeded"},
    )
    assert _charge(django_capture_on_commit_callbacks) == {"succeeded": 1}
    keys = {c.request.headers["Idempotency-Key"] for c in mocked.calls}
    assert len(keys) == 1
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID


def test_only_due_renewals_with_a_default_card_are_charged(customer, other_customer, mocked):
    _card(customer)
    _renewal(customer, timezone.localdate() + timedelta(days=3))  # not due yet
    _renewal(other_customer, timezone.localdate())  # no card
    assert renewals_charge_off_session(today=timezone.localdate()) == {}
    assert len(mocked.calls) == 0
