"""Free trials (issue 20): a product's first order by a customer starts free for its trial
days (once per customer and per saved card), is provisioned at once, and from the trial's
end it is billed as any renewal: the first invoice comes ahead of the due date and the
service is suspended if it is unpaid, by the billing run, with a moving clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from billing import services as billing_services
from billing.services import billing_run
from billing.tests.test_api import api
from billing_portal.common.audit import AuditEvent
from billing_portal.common.testing import usd
from catalogue.audit import OrderAudit
from catalogue.errors import CouponInvalid
from catalogue.models import Coupon, Order, TrialRedemption
from catalogue.tests.factories import ProductFactory, ProductPriceFactory
from invoices.models import Invoice
from payments.gateways.base import SavedCard
from payments.gateways.stripe import _card
from payments.models import SavedPaymentMethod
from payments.services.cards import card_store
from provisioning.models import ProvisioningOperation, Service
from provisioning.tests.factories import ServerFactory, placed_product

pytestmark = pytest.mark.django_db

START = date(2026, 1, 1)
TRIAL_END = date(2026, 1, 14)  # 14 days: Jan 1 to Jan 14; the first invoice is due Jan 15


def _at(day: date):
    return time_machine.travel(datetime(day.year, day.month, day.day, 3, tzinfo=UTC), tick=False)


@pytest.fixture
def product():
    product = ProductFactory(name="Rust server", slug="rust", trial_days=14)
    ProductPriceFactory(product=product, cycle="monthly", price=usd("10.00"), setup_fee=usd("5"))
    ProductPriceFactory(product=product, cycle="one_time", price=usd("50.00"))
    return product


def _request(product, cycle: str = "monthly", coupon_code: str = ""):
    return billing_services.OrderRequest(
        product=product, cycle=cycle, currency="USD", coupon_code=coupon_code
    )


def _save_card(customer, reference: str, fingerprint: str) -> SavedPaymentMethod:
    card = SavedCard(
        reference=reference,
        brand="visa",
        last4="4242",
        exp_month=4,
        exp_year=2030,
        fingerprint=fingerprint,
    )
    return card_store(customer=customer, gateway="stripe", card=card)


def _run_days(capture, first: date, last: date) -> None:
    """The billing run on each day, twice (the second changes nothing)."""
    day = first
    while day <= last:
        with _at(day), capture(execute=True):
            assert billing_run().errors == []
            assert set(billing_run().counts.values()) == {0}
        day += timedelta(days=1)


def _place_trial(customer, product, capture) -> Service:
    with _at(START), capture(execute=True):
        order = billing_services.order_place(customer=customer, request=_request(product))
    return Service.objects.get(order=order)


def test_a_trial_is_free_provisioned_at_once_and_ends_on_its_last_day(
    customer, product, django_capture_on_commit_callbacks
):
    with _at(START):
        quote = billing_services.order_quote(customer=customer, request=_request(product))
    assert quote.totals.total == usd("0.00")
    assert [line.kind for line in quote.lines] == ["service"]  # the setup fee is waived
    assert quote.lines[0].period_end == TRIAL_END
    assert quote.trial_text == f"14 days free, then {quote.recurring_total} per month"

    service = _place_trial(customer, product, django_capture_on_commit_callbacks)
    assert service.status == Service.Status.ACTIVE  # no payment asked
    assert service.next_due_date == date(2026, 1, 15)
    assert service.recurring_amount == usd("10.00")
    order = Order.objects.get()
    assert order.status == Order.Status.COMPLETED
    assert order.invoices.get().status == Invoice.Status.PAID
    assert order.invoices.get().total == usd("0.00")
    redemption = TrialRedemption.objects.get()
    assert (redemption.customer, redemption.days, redemption.ends_on) == (customer, 14, TRIAL_END)
    placed = AuditEvent.objects.get(action=OrderAudit.ORDER_PLACED)
    assert placed.details["trial_days"] == 14


def test_a_trial_paid_before_its_end_carries_on(
    customer, product, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    service = _place_trial(customer, product, capture)
    _run_days(capture, START, date(2026, 1, 10))
    renewal = Invoice.objects.get(kind=Invoice.Kind.RENEWAL)  # the first real invoice
    assert renewal.issued_at.date() == date(2026, 1, 8)  # the renewal run's lead days
    assert renewal.due_date == date(2026, 1, 15)
    assert renewal.subtotal == usd("10.00")

    with _at(date(2026, 1, 10)), capture(execute=True):
        billing_services.invoice_mark_paid(invoice_id=renewal.pk)
    _run_days(capture, date(2026, 1, 11), date(2026, 1, 25))
    service.refresh_from_db()
    assert (service.status, service.next_due_date) == (Service.Status.ACTIVE, date(2026, 2, 15))


def test_a_trial_unpaid_at_its_end_is_suspended_as_any_overdue_renewal(
    customer, product, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    service = _place_trial(customer, product, capture)
    _run_days(capture, START, date(2026, 1, 17))
    service.refresh_from_db()
    assert service.status == Service.Status.ACTIVE  # the usual grace after the due date
    _run_days(capture, date(2026, 1, 18), date(2026, 1, 18))
    service.refresh_from_db()
    assert service.status == Service.Status.SUSPENDED

    renewal = Invoice.objects.get(kind=Invoice.Kind.RENEWAL)
    with _at(date(2026, 1, 19)), capture(execute=True):
        billing_services.invoice_mark_paid(invoice_id=renewal.pk)
    service.refresh_from_db()
    assert service.status == Service.Status.ACTIVE


def test_a_trial_is_once_per_customer(customer, product, django_capture_on_commit_callbacks):
    _place_trial(customer, product, django_capture_on_commit_callbacks)
    quote = billing_services.order_quote(customer=customer, request=_request(product))
    assert quote.trial is None
    assert quote.trial_text == ""
    assert quote.totals.subtotal == usd("15.00")  # price and setup fee, as any order

    order = billing_services.order_place(customer=customer, request=_request(product))
    assert order.status == Order.Status.PENDING
    assert order.invoices.get().status == Invoice.Status.UNPAID
    assert Service.objects.get(order=order).status == Service.Status.PENDING
    assert TrialRedemption.objects.count() == 1


def test_the_same_card_on_another_account_is_refused_a_second_trial(
    customer, other_customer, product, django_capture_on_commit_callbacks
):
    _save_card(customer, "pm_a", "fp_same")
    _place_trial(customer, product, django_capture_on_commit_callbacks)
    assert list(TrialRedemption.objects.get().card_fingerprints.values_list("fingerprint")) == [
        ("fp_same",)
    ]
    SavedPaymentMethod.objects.filter(customer=customer).delete()  # removing it changes nothing

    _save_card(other_customer, "pm_b", "fp_same")
    quote = billing_services.order_quote(customer=other_customer, request=_request(product))
    assert quote.trial is None
    assert quote.totals.total == usd("15.00")


def test_a_card_saved_after_the_trial_still_counts(
    customer, other_customer, product, django_capture_on_commit_callbacks
):
    _place_trial(customer, product, django_capture_on_commit_callbacks)  # no card then
    _save_card(customer, "pm_a", "fp_later")
    _save_card(other_customer, "pm_b", "fp_later")
    assert (
        billing_services.order_quote(customer=other_customer, request=_request(product)).trial
        is None
    )


def test_another_customer_with_another_card_gets_the_trial(
    customer, other_customer, product, django_capture_on_commit_callbacks
):
    _save_card(customer, "pm_a", "fp_a")
    _place_trial(customer, product, django_capture_on_commit_callbacks)
    _save_card(other_customer, "pm_b", "fp_b")
    quote = billing_services.order_quote(customer=other_customer, request=_request(product))
    assert quote.trial is not None
    assert quote.totals.total == usd("0.00")


def test_no_trial_on_a_one_time_cycle_or_a_product_without_one(customer, product):
    assert (
        billing_services.order_quote(customer=customer, request=_request(product, "one_time")).trial
        is None
    )
    plain = ProductFactory(slug="plain")
    ProductPriceFactory(product=plain, cycle="monthly", price=usd("10.00"))
    assert billing_services.order_quote(customer=customer, request=_request(plain)).trial is None


def test_a_first_invoice_coupon_is_refused_on_a_trial(customer, product):
    Coupon.objects.create(code="WELCOME", kind="percent", percent=50, applies="first_invoice")
    with pytest.raises(CouponInvalid):
        billing_services.order_quote(
            customer=customer, request=_request(product, coupon_code="welcome")
        )
    assert Order.objects.count() == 0


def test_the_order_pages_show_the_trial(
    client, customer, product, django_capture_on_commit_callbacks
):
    client.force_login(customer.user)
    listing = client.get(reverse("orders:catalogue")).content.decode()
    assert 'data-testid="catalogue-trial">14 days free<' in listing
    url = reverse("orders:product", args=["rust"])
    configure = client.get(url).content.decode()
    assert 'data-testid="product-trial">14 days free' in configure

    review = client.post(url, {"cycle": "monthly", "coupon_code": ""})
    quote = review.context["quote"]
    assert f"14 days free, then {quote.recurring_total} per month" in review.content.decode()
    assert b'data-testid="order-total">$0.00<' in review.content

    with django_capture_on_commit_callbacks(execute=True):
        placed = client.post(url, {"cycle": "monthly", "coupon_code": "", "place": "1"})
    assert placed.status_code == 302
    assert Service.objects.get(customer=customer).status == Service.Status.ACTIVE


def test_the_catalogue_api_and_the_quote_show_the_trial(
    customer, product, django_capture_on_commit_callbacks
):
    client = api(customer)
    products = client.get("/api/v1/catalogue/").json()["products"]
    assert [p["trial_days"] for p in products if p["slug"] == "rust"] == [14]

    cart = {"product": "rust", "cycle": "monthly"}
    with _at(START):
        body = client.post("/api/v1/orders/quote/", cart, content_type="application/json").json()
    assert (body["trial_days"], body["trial_ends_on"], body["total"]["amount"]) == (
        14,
        "2026-01-14",
        "0.00",
    )
    assert body["trial_text"].startswith("14 days free, then ")
    assert "per month" in body["trial_text"]

    _place_trial(customer, product, django_capture_on_commit_callbacks)
    body = client.post("/api/v1/orders/quote/", cart, content_type="application/json").json()
    assert (body["trial_days"], body["trial_ends_on"], body["trial_text"]) == (0, None, "")


def test_stripe_cards_keep_their_fingerprint(customer):
    method = {"id": "pm_1", "card": {"brand": "visa", "last4": "4242", "fingerprint": "Xt5E"}}
    assert _card(method).fingerprint == "Xt5E"
    assert _card({"id": "pm_2", "card": {}}).fingerprint == ""
    assert card_store(customer=customer, gateway="stripe", card=_card(method)).fingerprint == "Xt5E"


def test_a_trial_of_a_panel_product_is_provisioned_at_once(
    customer, django_capture_on_commit_callbacks
):
    server = ServerFactory()
    product = placed_product(
        server.group, slug="box", module="sandbox", module_settings={"plan": "box"}, trial_days=7
    )
    ProductPriceFactory(product=product, cycle="monthly", price=usd("10.00"))
    service = _place_trial(customer, product, django_capture_on_commit_callbacks)
    assert ProvisioningOperation.objects.filter(service=service, kind="create").exists()
    service.refresh_from_db()
    assert service.status == Service.Status.ACTIVE  # the sandbox panel confirmed it
    assert service.next_due_date == date(2026, 1, 8)


def test_staff_who_may_view_orders_see_the_trial_on_the_order(
    staff_client_factory, customer, product, django_capture_on_commit_callbacks
):
    service = _place_trial(customer, product, django_capture_on_commit_callbacks)
    url = reverse("admin:catalogue_order_change", args=[service.order_id])
    page = staff_client_factory("view_order").get(url)
    assert "14 days, free until 2026-01-14" in page.content.decode()
    assert staff_client_factory("view_product").get(url).status_code == 403
