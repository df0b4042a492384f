"""VirtFusion VPS tokens: buying, delivering at most once through outages and lost answers,
the balance card, and staff resolution. VirtFusion and Stripe are mocked with `responses`
in their documented shapes."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from responses import matchers

from accounts.tests.factories import UserFactory
from billing import services as billing_services
from billing.audit import TokenAudit
from billing.models import TokenPurchase
from billing.services import payment_record
from billing.services import tokens as token_services
from billing_portal.common.audit import AuditEvent
from billing_portal.common.testing import VIRTFUSION_API as VF
from billing_portal.common.testing import usd
from catalogue.models import TaxRate
from credits.models import CreditEntry
from invoices.models import Invoice
from payments.models import Payment
from provisioning.tests.test_virtfusion_adapter import refused

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("virtfusion")]


def _credit_url(customer) -> str:
    return f"{VF}/selfService/credit/byUserExtRelationId/{customer.pk}"


def _mock_user(mocked, customer) -> None:
    mocked.get(
        f"{VF}/users/{customer.pk}/byExtRelation",
        json={"data": {"id": 5, "extRelationId": customer.pk, "email": "x@y.z"}},
    )


def _mock_balance(mocked, customer, tokens) -> None:
    mocked.get(
        f"{VF}/selfService/hourlyStats/byUserExtRelationId/{customer.pk}",
        json={"data": {"credit": {"value": tokens}}},
    )


def _paid_purchase(customer, amount="25.00", *, capture) -> TokenPurchase:
    invoice = billing_services.token_purchase_start(
        customer=customer, amount=usd(amount), actor=None
    )
    with capture(execute=False):  # delivery is queued on commit; the tests drive it
        payment_record(
            invoice_id=invoice.pk,
            gateway="stripe",
            reference=f"pi_{invoice.pk}",
            amount=invoice.total,
        )
    return TokenPurchase.objects.get(invoice=invoice)


def _calls_to(mocked, url: str) -> int:
    return sum(1 for call in mocked.calls if call.request.url.startswith(url))


def test_paying_queues_the_tokens_and_virtfusion_down_then_up_adds_them_once(
    customer, mocked, django_capture_on_commit_callbacks
):
    credit = _paid_purchase(customer, capture=django_capture_on_commit_callbacks)
    assert (credit.status, credit.tokens, credit.rate) == ("pending", Decimal("2500.00"), 100)
    _mock_user(mocked, customer)
    body = {
        "tokens": 2500,
        "reference_1": credit.pk,
        "reference_2": f"portal-token-purchase-{credit.pk}",
    }
    match = [matchers.json_params_matcher(body)]
    mocked.post(_credit_url(customer), body=refused(), match=match)  # nothing listens
    mocked.post(_credit_url(customer), status=503, body="<h1>Service Unavailable</h1>", match=match)
    mocked.post(_credit_url(customer), status=201, json={"data": {"id": 77}}, match=match)

    now = timezone.now()
    for minutes in (0, 0, 60, 60, 180, 180, 300):  # early and repeated calls do nothing
        with django_capture_on_commit_callbacks(execute=True):
            credit = billing_services.token_purchase_deliver(
                token_purchase_id=credit.pk, now=now + timedelta(minutes=minutes)
            )
    assert credit.status == TokenPurchase.Status.DELIVERED
    assert (credit.virtfusion_credit_id, credit.attempts) == (77, 3)
    assert _calls_to(mocked, _credit_url(customer)) == 3
    assert AuditEvent.objects.filter(action=TokenAudit.TOKENS_ADDED).count() == 1
    assert [m.subject for m in mail.outbox] == ["2500 VPS tokens added to your account"]


def test_a_lost_answer_is_never_resent_automatically_and_staff_resolve_it(
    client, customer, mocked, django_capture_on_commit_callbacks
):
    credit = _paid_purchase(customer, capture=django_capture_on_commit_callbacks)
    _mock_user(mocked, customer)
    mocked.post(_credit_url(customer), body=requests.ReadTimeout("read timed out"))
    with django_capture_on_commit_callbacks(execute=True):
        credit = billing_services.token_purchase_deliver(token_purchase_id=credit.pk)
    assert credit.status == TokenPurchase.Status.UNCERTAIN
    assert "VPS tokens need attention" in mail.outbox[-1].subject
    later = timezone.now() + timedelta(hours=5)
    assert billing_services.token_purchases_sweep(now=later) == []
    billing_services.token_purchase_deliver(token_purchase_id=credit.pk, now=later)
    assert _calls_to(mocked, _credit_url(customer)) == 1

    # the customer sees it as pending; staff find it in VirtFusion and mark it added
    client.force_login(customer.user)
    page = client.get(reverse("credits:overview")).content.decode()
    assert "2500 tokens are being added" in page
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = reverse("admin:billing_tokenpurchase_resolve", args=[credit.pk])
    response = client.post(url, {"action": "mark_delivered", "note": "Found in panel"})
    assert response.status_code == 200  # the credit id is required
    response = client.post(
        url, {"action": "mark_delivered", "virtfusion_credit_id": "91", "note": "Found in panel"}
    )
    assert response.status_code == 302
    credit.refresh_from_db()
    assert (credit.status, credit.virtfusion_credit_id) == ("delivered", 91)
    assert AuditEvent.objects.filter(action=TokenAudit.TOKENS_RESOLVED).count() == 1


def test_a_worker_killed_mid_call_leaves_it_for_staff(customer, mocked):
    credit = TokenPurchase.objects.create(
        customer=customer,
        source="staff",
        status="sending",
        tokens=Decimal("10"),
        rate=100,
        currency="USD",
        amount=usd("0"),
        reason="Goodwill",
        attempts=1,
    )
    assert billing_services.token_purchases_sweep(now=timezone.now() + timedelta(minutes=11)) == []
    credit.refresh_from_db()
    assert credit.status == TokenPurchase.Status.UNCERTAIN
    assert len(mocked.calls) == 0


def test_exhausted_retries_fail_and_staff_convert_to_account_credit(
    client, customer, mocked, django_capture_on_commit_callbacks
):
    TaxRate.objects.create(country=customer.country, rate=Decimal("10"), name="VAT")
    credit = _paid_purchase(customer, "20.00", capture=django_capture_on_commit_callbacks)
    _mock_user(mocked, customer)
    mocked.post(_credit_url(customer), status=502, body="Bad Gateway")
    now = timezone.now()
    for attempt in range(token_services.MAX_ATTEMPTS):
        with django_capture_on_commit_callbacks(execute=True):
            credit = billing_services.token_purchase_deliver(
                token_purchase_id=credit.pk, now=now + timedelta(hours=2 * attempt)
            )
    assert credit.status == TokenPurchase.Status.FAILED
    assert _calls_to(mocked, _credit_url(customer)) == token_services.MAX_ATTEMPTS
    assert "did not add these tokens" in mail.outbox[-1].body
    assert AuditEvent.objects.filter(action=TokenAudit.TOKENS_DELIVERY_FAILED).count() == 1

    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    changelist = client.get(reverse("admin:billing_tokenpurchase_changelist")).content.decode()
    assert "1 token purchase needs attention" in changelist
    url = reverse("admin:billing_tokenpurchase_resolve", args=[credit.pk])
    assert client.post(url, {"action": "convert", "note": " "}).status_code == 200
    client.post(url, {"action": "convert", "note": "VirtFusion migration"})
    credit.refresh_from_db()
    assert credit.status == TokenPurchase.Status.CONVERTED
    entry = CreditEntry.objects.get()
    # what the customer paid, tax included, comes back as credit
    assert (entry.kind, entry.amount) == (CreditEntry.Kind.REFUND_TO_CREDIT, usd("22.00"))
    response = client.post(url, {"action": "convert", "note": "again"})
    assert response.status_code == 200  # no longer offered
    assert CreditEntry.objects.count() == 1


def test_staff_refund_a_failed_purchase_through_stripe(
    client, customer, mocked, stripe_settings, django_capture_on_commit_callbacks
):
    credit = _paid_purchase(customer, "30.00", capture=django_capture_on_commit_callbacks)
    TokenPurchase.objects.filter(pk=credit.pk).update(status="failed")
    stripe = "https://api.stripe.com/v1"
    mocked.post(
        f"{stripe}/refunds",
        json={
            "id": "re_1",
            "object": "refund",
            "charge": "ch_1",
            "amount": 3000,
            "status": "succeeded",
        },
    )
    mocked.get(
        f"{stripe}/charges/ch_1",
        json={"id": "ch_1", "object": "charge", "amount": 3000, "amount_refunded": 3000},
    )
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = reverse("admin:billing_tokenpurchase_resolve", args=[credit.pk])
    assert client.post(url, {"action": "refund", "note": "Customer asked"}).status_code == 302
    credit.refresh_from_db()
    assert credit.status == TokenPurchase.Status.REFUNDED
    assert Payment.objects.get().status == Payment.Status.REFUNDED


def test_buying_tokens_from_the_billing_page(
    client, customer, mocked, stripe_settings, django_capture_on_commit_callbacks
):
    TaxRate.objects.create(country=customer.country, rate=Decimal("20"), name="VAT")
    _mock_balance(mocked, customer, 0)
    client.force_login(customer.user)
    page = client.get(reverse("credits:overview")).content.decode()
    assert 'data-testid="token-balance">0<' in page
    assert "100 tokens = 1 USD" in page

    stripe = "https://api.stripe.com/v1"
    mocked.post(f"{stripe}/customers", json={"id": "cus_1", "object": "customer"})
    session = {
        "id": "cs_tok",
        "object": "checkout.session",
        "url": "https://checkout.stripe.com/c/pay/cs_tok",
        "payment_status": "unpaid",
        "status": "open",
        "payment_intent": "pi_tok",
        "amount_total": 1200,
        "currency": "usd",
    }
    mocked.post(f"{stripe}/checkout/sessions", json=session)
    response = client.post(reverse("credits:buy_tokens"), {"gateway": "stripe", "amount": "10"})
    assert response.url == "https://checkout.stripe.com/c/pay/cs_tok"
    invoice = Invoice.objects.get(kind=Invoice.Kind.TOKEN_PURCHASE)
    assert (invoice.total, invoice.tax_total) == (usd("12.00"), usd("2.00"))  # tokens are taxed
    assert TokenPurchase.objects.get().status == TokenPurchase.Status.AWAITING_PAYMENT

    # the customer comes back paid; VirtFusion adds the tokens (the task runs on commit)
    paid = {
        **session,
        "payment_status": "paid",
        "status": "complete",
        "client_reference_id": str(invoice.pk),
        "metadata": {"invoice_id": str(invoice.pk)},
    }
    mocked.get(f"{stripe}/checkout/sessions/cs_tok", json=paid)
    mocked.get(f"{VF}/users/{customer.pk}/byExtRelation", status=404, json={"msg": "not found"})
    mocked.post(
        f"{VF}/users",
        status=201,
        json={"data": {"id": 5, "extRelationId": customer.pk, "email": "x@y.z"}},
    )
    mocked.post(_credit_url(customer), status=201, json={"data": {"id": 501}})
    with django_capture_on_commit_callbacks(execute=True):
        client.get(reverse("payments:stripe_return"), {"session_id": "cs_tok"})
    assert TokenPurchase.objects.get().status == TokenPurchase.Status.DELIVERED

    mocked.replace(
        "GET",
        f"{VF}/selfService/hourlyStats/byUserExtRelationId/{customer.pk}",
        json={"data": {"credit": {"value": 1000}}},
    )
    page = client.get(reverse("credits:overview")).content.decode()
    assert 'data-testid="token-balance">1000<' in page
    assert "worth $10.00" in page


def test_virtfusion_unreachable_the_page_says_so_and_works(client, customer, mocked):
    mocked.get(
        f"{VF}/selfService/hourlyStats/byUserExtRelationId/{customer.pk}",
        body=requests.ConnectTimeout(),
    )
    client.force_login(customer.user)
    for _ in range(3):  # the failure is cached briefly: VirtFusion is asked once
        response = client.get(reverse("credits:overview"))
        assert response.status_code == 200
        assert 'data-testid="token-unreachable"' in response.content.decode()
        assert 'data-testid="credit-balance"' in response.content.decode()
    assert len(mocked.calls) == 1


def test_without_virtfusion_tokens_are_not_offered(client, customer, settings):
    settings.VIRTFUSION_URL = ""
    client.force_login(customer.user)
    page = client.get(reverse("credits:overview")).content.decode()
    assert "VPS tokens are not offered" in page
    assert reverse("credits:buy_tokens") not in page


def test_staff_add_and_cancel_tokens_with_a_reason(
    client, customer, mocked, django_capture_on_commit_callbacks
):
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    grant = reverse("admin:billing_tokenpurchase_grant")
    response = client.post(grant, {"customer": customer.pk, "tokens": "500", "reason": ""})
    assert response.status_code == 200
    assert TokenPurchase.objects.count() == 0
    _mock_user(mocked, customer)
    mocked.post(_credit_url(customer), status=201, json={"data": {"id": 600}})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(grant, {"customer": customer.pk, "tokens": "500", "reason": "Outage"})
    credit = TokenPurchase.objects.get()
    assert (credit.status, credit.source, credit.staff_user) == ("delivered", "staff", staff)

    mocked.delete(f"{VF}/selfService/credit/600", status=204)
    url = reverse("admin:billing_tokenpurchase_resolve", args=[credit.pk])
    client.post(url, {"action": "cancel", "note": "Granted to the wrong customer"})
    credit.refresh_from_db()
    assert credit.status == TokenPurchase.Status.CANCELLED
    event = AuditEvent.objects.get(action=TokenAudit.TOKENS_CANCELLED)
    assert event.details["reason"] == "Granted to the wrong customer"


def test_customers_see_only_their_own_token_purchases(
    client, customer, other_customer, mocked, django_capture_on_commit_callbacks
):
    _paid_purchase(other_customer, "7.00", capture=django_capture_on_commit_callbacks)
    _mock_balance(mocked, customer, 0)
    client.force_login(customer.user)
    page = client.get(reverse("credits:overview")).content.decode()
    assert "700 tokens" not in page
    assert json.dumps("700") not in page
