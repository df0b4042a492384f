"""Client groups and their discounts (issue 20, pricing): a customer's group takes its
percentage off orders, renewals and plan changes as its own invoice line, after the coupon
(invoices/services/group_discounts.py), per product group or on everything, on setup fees
only when the discount says so; changing the group changes future invoices only; staff
manage groups in admin by role."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from accounts.models import Customer
from accounts.tests.factories import CustomerFactory
from accounts.tests.helpers import role_member
from billing import services as billing
from billing.management.commands.seed_demo import CUSTOMER_EMAIL
from billing.services.ordering import OrderRequest, order_place, order_quote
from billing_portal.common.audit import AuditEvent
from billing_portal.common.testing import usd
from catalogue.audit import ClientGroupAudit
from catalogue.models import (
    ClientGroup,
    ClientGroupDiscount,
    Coupon,
    CustomerGroup,
    Product,
    ProductGroup,
    ProductPrice,
)
from catalogue.selectors import client_group_discounts_for
from catalogue.services import customer_group_set
from catalogue.tests.factories import (
    ClientGroupFactory,
    ConfigurableOptionFactory,
    CouponFactory,
    ProductGroupFactory,
    ProductPriceFactory,
)
from credits.models import CreditEntry
from invoices.models import Invoice, InvoiceLine
from invoices.services.renewals import renewal_lines
from provisioning.models import Service
from provisioning.tests.factories import ServerFactory, placed_product

pytestmark = pytest.mark.django_db

GROUP_LINE = InvoiceLine.Kind.GROUP_DISCOUNT


def _group(
    customer: Customer | None = None,
    *,
    percent: str = "20",
    product_group: ProductGroup | None = None,
    setup_fees: bool = False,
    name: str = "Reseller",
) -> ClientGroup:
    """A group with one discount, the customer (if any) put in it through the service."""
    group = ClientGroupFactory(name=name)
    ClientGroupDiscount.objects.create(
        group=group,
        product_group=product_group,
        percent=Decimal(percent),
        includes_setup_fees=setup_fees,
    )
    if customer is not None:
        customer_group_set(customer_id=customer.pk, group=group)
    return group


def _order(customer: Customer, product: Product, **request) -> Invoice:
    order = order_place(
        customer=customer,
        request=OrderRequest(product=product, cycle="monthly", currency="USD", **request),
    )
    return Invoice.objects.get(order=order)


def _group_line(invoice: Invoice) -> InvoiceLine:
    return invoice.lines.get(kind=GROUP_LINE)


def _active(customer: Customer, product: Product, amount: str, **fields) -> Service:
    return Service.objects.create(
        customer=customer,
        product=product,
        cycle="monthly",
        currency="USD",
        recurring_amount=usd(amount),
        status="active",
        next_due_date=fields.pop("next_due_date", date(2026, 2, 1)),
        **fields,
    )


def _renewal_of(service: Service) -> Invoice:
    due = service.next_due_date
    assert due is not None
    billing.billing_run(today=due - timedelta(days=1))
    return Invoice.objects.get(
        kind=Invoice.Kind.RENEWAL, lines__service=service, lines__kind="service"
    )


# --- Acceptance 1 -------------------------------------------------------------------------


def test_acceptance_a_reseller_group_makes_the_demo_customers_order_and_renewal_20pc_cheaper(
    settings,
):
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())
    customer = Customer.objects.get(user__email=CUSTOMER_EMAIL)
    currency = str(customer.preferred_currency)
    price = (
        ProductPrice.objects.filter(
            currency=currency,
            cycle="monthly",
            product__is_visible=True,
            product__group__is_visible=True,
            product__requires_domain=False,
            product__requires_hostname=False,
            product__options__isnull=True,
        )
        .select_related("product")
        .first()
    )
    assert price is not None
    request = OrderRequest(product=price.product, cycle="monthly", currency=currency)
    before = order_quote(customer=customer, request=request)

    reseller = ClientGroup.objects.get(name="Reseller")  # the demo's: 20% off everything
    customer_group_set(customer_id=customer.pk, group=reseller)
    invoice = Invoice.objects.get(order=order_place(customer=customer, request=request))

    line = _group_line(invoice)
    assert line.description == "Reseller discount (20%)"
    off = price.price * Decimal("0.2")  # 20% of the plan's price; its setup fee stays whole
    assert line.amount == -off
    assert invoice.subtotal == before.totals.subtotal - off
    assert invoice.total.amount == before.totals.total.amount - off.amount * (
        1 + invoice.tax_rate / 100
    )
    assert before.recurring_total is not None
    assert order_quote(customer=customer, request=request).recurring_total == (
        before.recurring_total * Decimal("0.8")
    )

    service = Service.objects.get(order=invoice.order)
    Service.objects.filter(pk=service.pk).update(
        status="active", next_due_date=timezone.localdate() + timedelta(days=3)
    )
    service.refresh_from_db()
    renewal = _renewal_of(service)
    assert _group_line(renewal).description == "Reseller discount (20%)"
    assert renewal.total == before.recurring_total * Decimal("0.8")


# --- Orders -------------------------------------------------------------------------------


def test_an_order_gets_the_group_discount_as_its_own_line_and_the_totals_add_up():
    customer = CustomerFactory()
    price = ProductPriceFactory(price=usd("10.00"))
    _group(customer, percent="20")

    invoice = _order(customer, price.product)

    service_line = invoice.lines.get(kind="service")
    assert service_line.discount == usd("0")  # the group's discount is not folded into it
    line = _group_line(invoice)
    assert (line.unit_price, line.amount, line.discount, line.total) == (
        usd("-2.00"),
        usd("-2.00"),
        usd("0"),
        usd("-2.00"),
    )
    assert line.service_id == service_line.service_id  # the product's revenue, net
    assert (invoice.subtotal, invoice.discount_total, invoice.total) == (
        usd("8.00"),
        usd("0"),
        usd("8.00"),
    )
    assert Service.objects.get(pk=service_line.service_id).recurring_amount == usd("10.00")


def test_a_customer_in_no_group_pays_the_list_price():
    ClientGroupFactory()
    invoice = _order(CustomerFactory(), ProductPriceFactory(price=usd("10.00")).product)
    assert not invoice.lines.filter(kind=GROUP_LINE).exists()
    assert invoice.total == usd("10.00")


def test_setup_fees_are_excluded_unless_the_discount_includes_them():
    price = ProductPriceFactory(price=usd("10.00"), setup_fee=usd("5.00"))
    option = ConfigurableOptionFactory(product=price.product, min_quantity=0, max_quantity=4)
    option.prices.create(
        cycle="monthly", currency="USD", unit_price=usd("2.00"), setup_fee=usd("1.00")
    )
    quantities = {option.pk: 2}

    without = CustomerFactory()
    _group(without, percent="10")
    invoice = _order(without, price.product, option_quantities=quantities)
    assert _group_line(invoice).amount == usd("-1.40")  # 10% of 10.00 + 2 x 2.00
    assert invoice.total == usd("14.00") - usd("1.40") + usd("7.00")

    including = CustomerFactory()
    _group(including, percent="10", setup_fees=True, name="Partners")
    invoice = _order(including, price.product, option_quantities=quantities)
    assert _group_line(invoice).amount == usd("-2.10")  # also 10% of 5.00 + 2 x 1.00


def test_a_discount_per_product_group_applies_there_and_wins_over_the_one_for_everything():
    games, web = ProductGroupFactory(), ProductGroupFactory()
    game = ProductPriceFactory(price=usd("10.00"), product__group=games).product
    site = ProductPriceFactory(price=usd("10.00"), product__group=web).product
    customer = CustomerFactory()
    group = _group(customer, percent="50", product_group=games)

    assert _group_line(_order(customer, game)).amount == usd("-5.00")
    assert not _order(customer, site).lines.filter(kind=GROUP_LINE).exists()

    ClientGroupDiscount.objects.create(group=group, percent=Decimal("10"))
    assert _group_line(_order(customer, game)).amount == usd("-5.00")  # its own group's
    assert _group_line(_order(customer, site)).amount == usd("-1.00")  # everything's


def test_the_coupon_applies_first_and_the_group_takes_its_percentage_of_what_is_left():
    customer = CustomerFactory()
    product = ProductPriceFactory(price=usd("10.00")).product
    _group(customer, percent="20")
    CouponFactory(code="TEN", kind=Coupon.Kind.PERCENT, percent=Decimal("10"))
    CouponFactory(
        code="THREE", kind=Coupon.Kind.FIXED, percent=None, currency="USD", amount=usd("3.00")
    )

    percent = _order(customer, product, coupon_code="TEN")
    assert percent.lines.get(kind="service").discount == usd("1.00")
    assert _group_line(percent).amount == usd("-1.80")  # 20% of 9.00
    assert percent.total == usd("7.20")  # 28% off: the two compound, never above 100%

    fixed = _order(customer, product, coupon_code="THREE")
    assert fixed.lines.get(kind="service").discount == usd("3.00")  # its face value
    assert _group_line(fixed).amount == usd("-1.40")  # 20% of 7.00
    assert fixed.total == usd("5.60")


def test_each_line_is_rounded_half_up_to_cents_before_the_group_line_sums_them():
    price = ProductPriceFactory(price=usd("9.99"))
    option = ConfigurableOptionFactory(product=price.product, min_quantity=0, max_quantity=4)
    option.prices.create(
        cycle="monthly", currency="USD", unit_price=usd("0.05"), setup_fee=usd("0")
    )
    customer = CustomerFactory()
    _group(customer, percent="15")

    invoice = _order(customer, price.product, option_quantities={option.pk: 1})

    # 15% of 9.99 = 1.4985 -> 1.50; of 0.05 = 0.0075 -> 0.01 (on the sum: 1.506 -> 1.51)
    assert _group_line(invoice).amount == usd("-1.51")
    assert invoice.total == usd("10.04") - usd("1.51")


def test_a_100_percent_group_makes_the_order_free_and_paid_at_once():
    customer = CustomerFactory()
    _group(customer, percent="100")
    invoice = _order(customer, ProductPriceFactory(price=usd("10.00")).product)
    assert invoice.total == usd("0")
    assert invoice.status == Invoice.Status.PAID


def test_the_tax_is_charged_on_the_discounted_price(settings):
    from catalogue.tests.factories import TaxRateFactory

    settings.TAX_PRICES_INCLUDE_TAX = False
    TaxRateFactory(country="DE", rate=Decimal("19"))
    customer = CustomerFactory(country="DE")
    _group(customer, percent="20")

    invoice = _order(customer, ProductPriceFactory(price=usd("10.00")).product)

    assert _group_line(invoice).tax == usd("-0.38")
    assert (invoice.subtotal, invoice.tax_total, invoice.total) == (
        usd("8.00"),
        usd("1.52"),
        usd("9.52"),
    )


# --- Renewals -----------------------------------------------------------------------------


def test_a_renewal_gets_the_discount_after_its_recurring_coupon_in_the_run_and_alone():
    customer = CustomerFactory()
    product = ProductPriceFactory(price=usd("10.00")).product
    _group(customer, percent="20")
    coupon = CouponFactory(
        code="LOYAL", kind=Coupon.Kind.PERCENT, percent=Decimal("50"), applies="recurring"
    )
    service = _active(customer, product, "10.00", recurring_coupon=coupon)

    alone = renewal_lines(service)  # one service at a time, read for it
    assert [line.kind for line in alone] == ["service", GROUP_LINE]
    assert alone[1].unit_price == usd("-1.00")  # 20% of the 5.00 left after the coupon

    renewal = _renewal_of(service)  # the run's chunk, reading the group once for all
    assert _group_line(renewal).amount == usd("-1.00")
    assert _group_line(renewal).service_id == service.pk
    assert renewal.total == usd("4.00")


def test_a_chunk_reads_the_customers_groups_in_a_constant_number_of_queries():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from billing.services import run

    product = ProductPriceFactory(price=usd("10.00")).product

    def chunk(count: int) -> int:
        services = []
        for _ in range(count):
            customer = CustomerFactory()
            _group(customer, percent="20", name=f"Group of {customer.pk}")
            services.append(_active(customer, product, "10.00"))
        with CaptureQueriesContext(connection) as queries:
            assert run.renewals_renew([[s.pk] for s in services]) == count
        return len(queries)

    assert chunk(2) == chunk(6)
    assert InvoiceLine.objects.filter(kind=GROUP_LINE).count() == 8


# --- Plan changes -------------------------------------------------------------------------


def _plans(customer: Customer) -> tuple[Service, Product, Product]:
    """An active service on Medium (10.00), with Large (25.00) and Small (4.00) beside it."""
    server = ServerFactory()
    medium, large, small = (
        placed_product(server.group, slug=slug, module="sandbox", module_settings={"plan": slug})
        for slug in ("medium", "large", "small")
    )
    for product, price in ((medium, "10.00"), (large, "25.00"), (small, "4.00")):
        product.group = medium.group
        product.save()
        ProductPriceFactory(product=product, price=usd(price))
    service = _active(
        customer,
        medium,
        "10.00",
        server=server,
        external_id=f"sandbox-svc-{customer.pk}",
        next_due_date=timezone.localdate() + timedelta(days=15),
    )
    return service, large, small


def test_an_upgrade_invoice_gets_the_group_discount_on_the_prorated_difference():
    customer = CustomerFactory()
    service, large, _small = _plans(customer)
    _group(customer, percent="20")

    change = billing.plan_change_request(
        customer=customer, service_id=service.pk, to_product_id=large.pk
    )

    invoice = change.invoice
    assert invoice is not None
    difference = invoice.lines.get(kind="plan_change").amount
    assert _group_line(invoice).amount == -Money(
        (difference.amount * Decimal("0.2")).quantize(Decimal("0.01")), "USD"
    )
    assert invoice.total == difference + _group_line(invoice).amount


def test_a_downgrade_credits_the_difference_less_the_group_discount():
    customer = CustomerFactory()
    service, _large, small = _plans(customer)
    _group(customer, percent="50")

    change = billing.plan_change_request(
        customer=customer, service_id=service.pk, to_product_id=small.pk
    )

    credited = CreditEntry.objects.get(account__customer=customer).amount
    assert credited == -change.prorated_difference * Decimal("0.5")


# --- Changing the group -------------------------------------------------------------------


def test_changing_the_group_changes_future_invoices_only():
    customer = CustomerFactory()
    product = ProductPriceFactory(price=usd("10.00")).product
    _group(customer, percent="20", name="Reseller")
    issued = _order(customer, product)
    lines_before = list(issued.lines.values_list("kind", "description", "amount", "total"))

    loyal = _group(None, percent="50", name="Loyal")
    customer_group_set(customer_id=customer.pk, group=loyal)

    issued.refresh_from_db()
    assert issued.total == usd("8.00")
    assert list(issued.lines.values_list("kind", "description", "amount", "total")) == lines_before
    service = _active(customer, product, "10.00")
    assert _group_line(_renewal_of(service)).description == "Loyal discount (50%)"

    customer_group_set(customer_id=customer.pk, group=None)
    assert not _order(customer, product).lines.filter(kind=GROUP_LINE).exists()
    assert issued.lines.filter(kind=GROUP_LINE).count() == 1


def test_setting_the_group_is_audited_once_and_a_customer_is_in_at_most_one():
    customer = CustomerFactory()
    reseller = _group(None, name="Reseller")
    customer_group_set(customer_id=customer.pk, group=reseller)
    customer_group_set(customer_id=customer.pk, group=reseller)  # nothing changes

    events = AuditEvent.objects.filter(action=ClientGroupAudit.CUSTOMER_GROUP_CHANGED)
    assert events.count() == 1
    assert events.get().details == {"from": "", "to": "Reseller"}
    discounts = client_group_discounts_for(customer=customer)
    assert discounts is not None
    assert discounts.group_name == "Reseller"
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerGroup.objects.create(customer=customer, group=_group(None, name="Other"))


def test_the_database_keeps_group_lines_negative_and_other_lines_not():
    invoice = _order(CustomerFactory(), ProductPriceFactory(price=usd("10.00")).product)
    fields = {"invoice": invoice, "currency": "USD", "description": "x", "tax": usd("0")}
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceLine.objects.create(
            kind=GROUP_LINE,
            unit_price=usd("1"),
            amount=usd("1"),
            discount=usd("0"),
            total=usd("1"),
            **fields,
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceLine.objects.create(
            kind="manual",
            unit_price=usd("-1"),
            amount=usd("-1"),
            discount=usd("0"),
            total=usd("-1"),
            **fields,
        )


# --- Admin --------------------------------------------------------------------------------


def _client(role: str) -> Client:
    client = Client()
    client.force_login(role_member(role))
    return client


def test_billing_staff_create_a_group_with_its_discounts_and_support_may_not():
    games = ProductGroupFactory()
    url = reverse("admin:catalogue_clientgroup_add")
    assert _client("Support").get(url).status_code == 403
    data = {
        "name": "Reseller",
        "colour": "#ff8800",
        "description": "",
        "discounts-TOTAL_FORMS": "2",
        "discounts-INITIAL_FORMS": "0",
        "discounts-0-percent": "20",
        "discounts-1-product_group": str(games.pk),
        "discounts-1-percent": "30",
        "discounts-1-includes_setup_fees": "on",
    }

    response = _client("Billing").post(url, data)

    assert response.status_code == 302, response.content
    group = ClientGroup.objects.get(name="Reseller")
    discounts = {
        d.product_group_id: (d.percent, d.includes_setup_fees) for d in group.discounts.all()
    }
    assert discounts == {None: (Decimal("20.00"), False), games.pk: (Decimal("30.00"), True)}


def test_a_bad_colour_or_percent_is_refused_with_no_change():
    client = _client("Billing")
    url = reverse("admin:catalogue_clientgroup_add")
    base = {"name": "Reseller", "discounts-TOTAL_FORMS": "1", "discounts-INITIAL_FORMS": "0"}
    for colour, percent in (("orange", "20"), ("#ff8800", "120"), ("#ff8800", "0")):
        response = client.post(url, {**base, "colour": colour, "discounts-0-percent": percent})
        assert response.status_code == 200
    assert not ClientGroup.objects.exists()


def test_billing_staff_put_a_customer_in_a_group_through_the_audited_service():
    customer = CustomerFactory()
    group = _group(None, name="Reseller")
    client = _client("Billing")

    response = client.post(
        reverse("admin:catalogue_customergroup_add"),
        {"customer": str(customer.pk), "group": str(group.pk)},
    )

    assert response.status_code == 302, response.content
    membership = CustomerGroup.objects.get(customer=customer)
    assert membership.group == group
    event = AuditEvent.objects.get(action=ClientGroupAudit.CUSTOMER_GROUP_CHANGED)
    assert event.customer_id == customer.pk
    response = client.post(
        reverse("admin:catalogue_customergroup_delete", args=[membership.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not CustomerGroup.objects.exists()
    assert AuditEvent.objects.filter(action=ClientGroupAudit.CUSTOMER_GROUP_CHANGED).count() == 2
    assert (
        _client("Support").get(reverse("admin:catalogue_customergroup_changelist")).status_code
        == 403
    )


def test_staff_see_the_group_badge_in_its_colour_on_the_customer_list_and_form():
    customer = CustomerFactory()
    group = _group(customer, name="Reseller")
    group.colour = "#ff8800"
    group.save()
    client = _client("Support")  # every staff member who sees customers sees their group

    listed = client.get(reverse("admin:accounts_customer_changelist"))
    form = client.get(reverse("admin:accounts_customer_change", args=[customer.pk]))

    for page in (listed, form):
        assert page.status_code == 200
        assert b"background:#ff8800" in page.content
        assert b">Reseller</span>" in page.content
