"""Ordering: quotes, placing (stock, coupons, options), cancelling, and paying the order."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from djmoney.money import Money

from accounts.tests.factories import CustomerFactory
from billing import services as billing_services
from billing_portal.common.audit import AuditEvent
from billing_portal.common.testing import eur
from catalogue.audit import OrderAudit
from catalogue.errors import (
    CouponInvalid,
    InvalidOptionQuantity,
    MissingOrderField,
    OrderNotCancellable,
    OutOfStock,
    PriceUnavailable,
)
from catalogue.models import ConfigurableOptionPrice, Coupon, Order
from catalogue.tests.factories import (
    ConfigurableOptionFactory,
    CouponFactory,
    ProductPriceFactory,
    TaxRateFactory,
)
from invoices.models import Invoice
from provisioning.models import Service

pytestmark = pytest.mark.django_db

TODAY = date(2026, 5, 10)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(datetime(2026, 5, 10, 12, tzinfo=UTC), tick=False):
        yield


@pytest.fixture
def buyer(settings):
    settings.SELLER_DETAILS = {**settings.SELLER_DETAILS, "country": "DE"}
    TaxRateFactory(country="DE", rate=Decimal("19"))
    return CustomerFactory(country="DE", preferred_currency="EUR")


@pytest.fixture
def price():
    price = ProductPriceFactory(
        currency="EUR", price=eur("20.00"), setup_fee=eur("5.00"), cycle="monthly"
    )
    option = ConfigurableOptionFactory(product=price.product, name="Extra memory", max_quantity=8)
    ConfigurableOptionPrice.objects.create(
        option=option,
        cycle="monthly",
        currency="EUR",
        unit_price=eur("2.00"),
        setup_fee=eur("0.00"),
    )
    return price


def _request(price, **overrides) -> billing_services.OrderRequest:
    option = price.product.options.get()
    values = {
        "product": price.product,
        "cycle": "monthly",
        "currency": "EUR",
        "option_quantities": {option.pk: 3},
        **overrides,
    }
    return billing_services.OrderRequest(**values)


def test_quote_breaks_down_price_setup_options_tax_and_recurring(buyer, price):
    quote = billing_services.order_quote(customer=buyer, request=_request(price))
    assert [line.description for line in quote.lines] == [
        f"{price.product.name} (Monthly)",
        f"Setup fee: {price.product.name}",
        "Extra memory (GB)",
    ]
    assert quote.totals.subtotal == eur("31.00")
    assert quote.totals.tax_total == eur("5.89")
    assert quote.totals.total == eur("36.89")
    assert quote.recurring_amount == eur("26.00")
    assert quote.recurring_total == eur("30.94")
    assert quote.lines[0].period_start == TODAY
    assert quote.lines[0].period_end == date(2026, 6, 9)


def test_place_creates_pending_service_and_an_issued_invoice_due_today(
    buyer, price, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        order = billing_services.order_place(
            customer=buyer, request=_request(price, domain="x.test")
        )
    service = Service.objects.get(order=order)
    assert service.status == Service.Status.PENDING
    assert service.recurring_amount == eur("26.00")
    assert [(o.option.name, o.quantity) for o in service.options.all()] == [("Extra memory", 3)]
    invoice = order.invoices.get()
    assert invoice.status == Invoice.Status.UNPAID
    assert invoice.kind == Invoice.Kind.ORDER
    assert invoice.due_date == TODAY
    assert invoice.total == eur("36.89")
    assert set(invoice.lines.values_list("service_id", flat=True)) == {service.pk, None}
    subjects = sorted(m.subject for m in mailoutbox)
    assert subjects[0].startswith("Invoice INV-2026-")
    assert subjects[1].startswith(f"Order #{order.pk} received")
    assert AuditEvent.objects.filter(action=OrderAudit.ORDER_PLACED, customer=buyer).exists()


def test_paying_the_order_activates_the_service_and_completes_the_order(buyer, price):
    order = billing_services.order_place(customer=buyer, request=_request(price))
    billing_services.invoice_mark_paid(invoice_id=order.invoices.get().pk)
    service = Service.objects.get(order=order)
    assert service.status == Service.Status.ACTIVE
    assert service.next_due_date == date(2026, 6, 10)
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED


def test_stock_is_respected_and_freed_by_cancellation(buyer, price):
    price.product.stock_limit = 1
    price.product.save()
    first = billing_services.order_place(customer=buyer, request=_request(price))
    with pytest.raises(OutOfStock, match="sold out"):
        billing_services.order_place(customer=buyer, request=_request(price))
    billing_services.order_cancel(order_id=first.pk, actor=buyer.user)
    billing_services.order_place(customer=buyer, request=_request(price))
    assert Service.objects.filter(status="pending").count() == 1


def test_cancel_cancels_invoice_and_service_once(buyer, price):
    order = billing_services.order_place(customer=buyer, request=_request(price))
    billing_services.order_cancel(order_id=order.pk, actor=buyer.user)
    billing_services.order_cancel(order_id=order.pk, actor=buyer.user)
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert order.invoices.get().status == Invoice.Status.CANCELLED
    assert Service.objects.get(order=order).status == Service.Status.CANCELLED
    assert AuditEvent.objects.filter(action=OrderAudit.ORDER_CANCELLED).count() == 1


def test_paid_orders_cannot_be_cancelled(buyer, price):
    order = billing_services.order_place(customer=buyer, request=_request(price))
    billing_services.invoice_mark_paid(invoice_id=order.invoices.get().pk)
    with pytest.raises(OrderNotCancellable):
        billing_services.order_cancel(order_id=order.pk)


def test_percent_coupon_discounts_the_first_invoice_and_recurring_ones_too(buyer, price):
    CouponFactory(code="HALF", percent=Decimal("50"), applies=Coupon.Applies.RECURRING)
    quote = billing_services.order_quote(
        customer=buyer, request=_request(price, coupon_code="half")
    )
    assert quote.totals.discount_total == eur("15.50")
    assert quote.totals.total == eur("18.45")
    assert quote.recurring_total == eur("15.47")
    order = billing_services.order_place(
        customer=buyer, request=_request(price, coupon_code="half")
    )
    assert Service.objects.get(order=order).recurring_coupon.code == "HALF"


def test_fixed_coupon_is_allocated_and_capped(buyer, price):
    CouponFactory(code="TENOFF", kind="fixed", percent=None, currency="EUR", amount=eur("10.00"))
    quote = billing_services.order_quote(
        customer=buyer, request=_request(price, coupon_code="TENOFF")
    )
    assert quote.totals.discount_total == eur("10.00")
    assert quote.recurring_total == eur("30.94")  # first invoice only


@pytest.mark.parametrize(
    ("coupon", "message"),
    [
        ({"expires_at": datetime(2026, 5, 1, tzinfo=UTC)}, "expired"),
        ({"starts_at": datetime(2026, 6, 1, tzinfo=UTC)}, "not valid yet"),
        ({"is_active": False}, "not valid"),
        ({"max_uses": 0}, "used up"),
        ({"kind": "fixed", "percent": None, "currency": "USD", "amount": Money(5, "USD")}, "USD"),
    ],
)
def test_coupon_rules(buyer, price, coupon, message):
    CouponFactory(code="RULE", **coupon)
    with pytest.raises(CouponInvalid, match=message):
        billing_services.order_quote(customer=buyer, request=_request(price, coupon_code="RULE"))


def test_coupon_product_restriction_and_per_customer_limit(buyer, price):
    other = ProductPriceFactory(currency="EUR").product
    restricted = CouponFactory(code="ONLYOTHER")
    restricted.products.add(other)
    with pytest.raises(CouponInvalid, match="cannot be used for"):
        billing_services.order_quote(
            customer=buyer, request=_request(price, coupon_code="ONLYOTHER")
        )

    CouponFactory(code="ONCE", max_uses_per_customer=1)
    billing_services.order_place(customer=buyer, request=_request(price, coupon_code="ONCE"))
    with pytest.raises(CouponInvalid, match="already used"):
        billing_services.order_quote(customer=buyer, request=_request(price, coupon_code="ONCE"))
    # another customer may still use it
    billing_services.order_quote(
        customer=CustomerFactory(), request=_request(price, coupon_code="ONCE")
    )


def test_invalid_configurations_are_refused_with_a_reason(buyer, price):
    option = price.product.options.get()
    with pytest.raises(InvalidOptionQuantity, match="between 0 and 8"):
        billing_services.order_quote(
            customer=buyer, request=_request(price, option_quantities={option.pk: 9})
        )
    with pytest.raises(InvalidOptionQuantity, match="does not belong"):
        billing_services.order_quote(
            customer=buyer, request=_request(price, option_quantities={-1: 1})
        )
    with pytest.raises(PriceUnavailable):
        billing_services.order_quote(customer=buyer, request=_request(price, cycle="annual"))
    price.product.requires_domain = True
    price.product.save()
    with pytest.raises(MissingOrderField, match="domain"):
        billing_services.order_quote(customer=buyer, request=_request(price))
    assert Order.objects.count() == 0


def test_one_time_products_have_no_renewal(buyer):
    one_time = ProductPriceFactory(currency="EUR", cycle="one_time", price=eur("99.00"))
    quote = billing_services.order_quote(
        customer=buyer,
        request=billing_services.OrderRequest(
            product=one_time.product, cycle="one_time", currency="EUR"
        ),
    )
    assert quote.recurring_total is None
    assert quote.lines[0].period_end is None
    order = billing_services.order_place(customer=buyer, request=quote.request)
    billing_services.invoice_mark_paid(invoice_id=order.invoices.get().pk)
    service = Service.objects.get(order=order)
    assert service.status == Service.Status.ACTIVE
    assert service.next_due_date is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("hostname", "not a host name!", "Enter a host name"),
        ("hostname", "192.0.2.1", "Enter a host name"),
        ("domain", "co.uk", "Enter a domain name"),
        ("domain", "localhost", "Enter a domain name"),
    ],
)
def test_the_order_service_refuses_bad_names_whoever_calls_it(field, value, message):
    from catalogue.errors import InvalidOrderField

    customer = CustomerFactory()
    product = ProductPriceFactory(currency="USD").product
    product.requires_domain = product.requires_hostname = True
    product.save()
    names = {"domain": "example.com", "hostname": "srv1.example.com", field: value}
    request = billing_services.OrderRequest(
        product=product, cycle="monthly", currency="USD", **names
    )
    with pytest.raises(InvalidOrderField, match=message):
        billing_services.order_place(customer=customer, request=request)
    assert not Order.objects.exists()
