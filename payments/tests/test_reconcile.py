"""The daily reconciliation records payments Stripe has and the portal missed."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest
import responses
from djmoney.money import Money

from billing import services as billing_services
from billing.tasks import payments_reconcile_task
from invoices import services as invoice_services
from invoices.models import Invoice
from payments.models import Payment
from payments.tests import stripe_events as se

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stripe_settings")]


def test_missed_payments_are_recorded_and_known_ones_left_alone(invoice_factory):
    known, missed = (
        invoice_factory(amount="25", description="x"),
        invoice_factory(amount="25", description="x"),
    )
    billing_services.payment_record(
        invoice_id=known.pk,
        gateway="stripe",
        reference="pi_known",
        amount=Money(Decimal("25"), "USD"),
    )
    page_1 = {
        "object": "list",
        "has_more": True,
        "url": "/v1/payment_intents",
        "data": [
            se.payment_intent(known.pk, amount=2500, pi="pi_known"),
            se.payment_intent(missed.pk, amount=2500, pi="pi_missed"),
        ],
    }
    unknown = se.payment_intent(0, amount=100, pi="pi_other_shop")
    unknown["metadata"] = {}
    pending = {**se.payment_intent(missed.pk, amount=2500, pi="pi_pending"), "status": "processing"}
    page_2 = {
        "object": "list",
        "has_more": False,
        "url": "/v1/payment_intents",
        "data": [unknown, pending],
    }
    with responses.RequestsMock() as rsps:
        rsps.get("https://api.stripe.com/v1/payment_intents", json=page_1)
        rsps.get("https://api.stripe.com/v1/payment_intents", json=page_2)
        no_refunds = {"object": "list", "has_more": False, "url": "/v1/refunds", "data": []}
        rsps.get("https://api.stripe.com/v1/refunds", json=no_refunds)
        counts = payments_reconcile_task.delay().get()
        first_query = parse_qs(urlparse(rsps.calls[0].request.url).query)
    assert "created[gte]" in first_query
    assert counts == {"checked": 3, "recorded": 1, "skipped": 1, "refunds": 0}
    assert set(Payment.objects.values_list("reference", flat=True)) == {"pi_known", "pi_missed"}
    missed.refresh_from_db()
    assert missed.status == Invoice.Status.PAID


def test_without_stripe_there_is_nothing_to_reconcile(settings):
    settings.STRIPE_SECRET_KEY = ""
    assert billing_services.payments_reconcile() == {
        "checked": 0,
        "recorded": 0,
        "skipped": 0,
        "refunds": 0,
    }


def test_paypal_transactions_the_portal_missed_are_recorded(
    settings, paypal_settings, invoice_factory
):
    from payments.models import GatewayPlan, GatewaySubscription
    from payments.tests.test_paypal import TOKEN
    from provisioning.models import Service

    settings.STRIPE_SECRET_KEY = ""
    missed = invoice_factory(amount="25", description="x")
    service = Service.objects.create(
        customer=missed.customer,
        product=missed_product(),
        cycle="monthly",
        currency="USD",
        recurring_amount=Money(Decimal("25"), "USD"),
        status="active",
    )
    plan = GatewayPlan.objects.create(
        gateway="paypal",
        product=service.product,
        cycle="monthly",
        currency="USD",
        amount=Money(Decimal("25"), "USD"),
        product_reference="PROD-1",
        reference="P-1",
    )
    GatewaySubscription.objects.create(
        service=service,
        customer=service.customer,
        plan=plan,
        gateway="paypal",
        reference="I-SUB9",
        status="active",
    )
    renewal = _renewal_for(service)

    def info(transaction_id, value, custom="", ref_type="", ref=""):
        return {
            "transaction_info": {
                "transaction_id": transaction_id,
                "transaction_status": "S",
                "transaction_amount": {"currency_code": "USD", "value": value},
                "custom_field": custom,
                "paypal_reference_id_type": ref_type,
                "paypal_reference_id": ref,
            }
        }

    page = {
        "transaction_details": [
            info(
                "CAP-MISSED", "25.00", custom=f"invoice-{missed.pk}", ref_type="ODR", ref="ORDER1"
            ),
            info(
                "SALE-MISSED", "25.00", custom=f"service-{service.pk}", ref_type="SUB", ref="I-SUB9"
            ),
            info("REFUND-1", "-5.00", custom=f"invoice-{missed.pk}"),
            info("FOREIGN", "9.00", custom="someone-else"),
        ],
        "total_pages": 1,
        "page": 1,
    }
    with responses.RequestsMock() as rsps:
        rsps.post("https://api-m.sandbox.paypal.com/v1/oauth2/token", json=TOKEN)
        rsps.get("https://api-m.sandbox.paypal.com/v1/reporting/transactions", json=page)
        rsps.get("https://api-m.sandbox.paypal.com/v1/reporting/transactions", json=page)
        counts = billing_services.payments_reconcile()
        query = parse_qs(urlparse(rsps.calls[-1].request.url).query)
    assert query["transaction_status"] == ["S"]
    assert counts == {"checked": 3, "recorded": 2, "skipped": 1, "refunds": 0}
    missed.refresh_from_db()
    renewal.refresh_from_db()
    assert (missed.status, renewal.status) == ("paid", "paid")
    assert set(Payment.objects.values_list("reference", flat=True)) == {"CAP-MISSED", "SALE-MISSED"}


def missed_product():
    from catalogue.tests.factories import ProductFactory

    return ProductFactory()


def _renewal_for(service) -> Invoice:
    from datetime import date

    line = invoice_services.LineDraft(
        kind="service",
        description="Renewal",
        unit_price=Money(Decimal("25"), "USD"),
        service_id=service.pk,
        period_start=date(2026, 12, 1),
        period_end=date(2026, 12, 31),
    )
    draft = invoice_services.invoice_create_draft(
        customer=service.customer, currency="USD", lines=[line], kind="renewal"
    )
    return billing_services.invoice_issue(invoice_id=draft.pk)
