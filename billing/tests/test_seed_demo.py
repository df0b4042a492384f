"""manage.py seed_demo: demo data, idempotent."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from djmoney.money import Money

from accounts.models import Customer, User
from billing.demo import FAILED_OPERATION_KEY, INVOICE_SERIES, OVERDUE
from billing.management.commands.seed_demo import CUSTOMER_EMAIL, ROLE_STAFF, STAFF_EMAIL
from billing.services import OrderRequest, order_quote
from billing_portal.common.audit import AuditEvent
from catalogue.models import ConfigurableOptionPrice, Product, ProductGroup, ProductPrice
from credits.services import credit_balance, credit_entry_append
from invoices.models import Invoice
from payments.models import Payment
from provisioning.models import ProvisioningOperation
from provisioning.panels.registry import module_settings_errors
from provisioning.selectors import servers_with_room

pytestmark = pytest.mark.django_db


def _counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "customers": Customer.objects.count(),
        "events": AuditEvent.objects.count(),
        "products": Product.objects.count(),
        "prices": ProductPrice.objects.count() + ConfigurableOptionPrice.objects.count(),
    }


def test_seed_demo_creates_staff_and_customer_once(settings):
    settings.DEBUG = True
    out = StringIO()
    call_command("seed_demo", stdout=out)
    first = _counts()
    staff = User.objects.get(email=STAFF_EMAIL)
    assert staff.is_staff
    assert staff.is_superuser
    assert staff.is_email_verified
    assert staff.check_password("admin-demo-pass")
    customer = Customer.objects.get(user__email=CUSTOMER_EMAIL)
    assert customer.user.check_password("demo-customer-pass")
    assert "demo@example.com" in out.getvalue()
    for email, role in ROLE_STAFF.items():
        member = User.objects.get(email=email)
        assert member.is_staff
        assert not member.is_superuser
        assert list(member.groups.values_list("name", flat=True)) == [role]
        assert f"totp_code {email}" in out.getvalue()
    staff_password_hash = staff.password

    call_command("seed_demo", stdout=StringIO())

    assert (
        _counts()
        == first
        == {
            "users": 5,  # admin, Support, Billing, the customer, the dashboard's history
            "customers": 2,
            "events": 2,  # the demo ticket, opened and answered (support.demo)
            "products": 9,  # 6 in the catalogue, 3 DNS plans
            "prices": 66,
        }
    )
    staff.refresh_from_db()
    assert staff.password == staff_password_hash


def test_seed_demo_outside_debug_uses_random_passwords(settings):
    settings.DEBUG = False
    out = StringIO()
    call_command("seed_demo", stdout=out)
    staff = User.objects.get(email=STAFF_EMAIL)
    assert not staff.check_password("admin-demo-pass")
    printed = out.getvalue().split(STAFF_EMAIL)[1].split()[0]
    assert staff.check_password(printed)


def test_seed_demo_offers_one_product_of_every_kind_each_on_a_sandbox_server():
    call_command("seed_demo", stdout=StringIO())
    products = list(Product.objects.filter(group__is_visible=True))
    kinds = sorted((p.kind, p.module_settings.get("stands_in_for")) for p in products)
    assert kinds == [
        ("game_server", "pterodactyl"),
        ("support", "support"),
        ("vps", "virtfusion"),
        ("web_hosting", "directadmin"),
        ("web_hosting", "nextpanel"),
        ("wordpress_site", "wordpress"),
    ]
    for product in products:
        assert product.is_visible, product
        assert len(product.description) > 40, product
        assert product.module == "sandbox", product
        assert module_settings_errors(product.module, product.module_settings) == {}
        assert servers_with_room(product=product).filter(module="sandbox").exists(), product
    # the DNS plans: products of the dns module in a hidden group (bought on the DNS page)
    plans = Product.objects.filter(kind="dns_plan")
    assert sorted(plans.values_list("name", flat=True)) == ["Basic", "Enterprise", "Pro"]
    for plan in plans:
        assert (plan.module, plan.group.is_visible) == ("dns", False)
        assert module_settings_errors("dns", plan.module_settings) == {}
        assert servers_with_room(product=plan).filter(module="dns").exists()


def test_the_demo_credit_pays_any_first_cycle_of_any_product():
    call_command("seed_demo", stdout=StringIO())
    customer = Customer.objects.get(user__email=CUSTOMER_EMAIL)
    currency = customer.preferred_currency
    balance = credit_balance(customer=customer, currency=currency)
    for product in Product.objects.prefetch_related("prices", "options"):
        most = {o.pk: o.max_quantity for o in product.options.all()}
        for price in product.prices.filter(currency=currency):
            quote = order_quote(
                customer=customer,
                request=OrderRequest(
                    product=product,
                    cycle=price.cycle,
                    currency=currency,
                    option_quantities=most,
                    domain="shop.test",
                    hostname="host.shop.test",
                ),
            )
            assert quote.totals.total <= balance, (product.slug, price.cycle)


def test_seed_demo_brings_an_older_demo_database_up_to_date():
    """What an earlier seed_demo left: a "DNS Basic" product that bought nothing, a product
    without a description or an imitated module, and 100 of demo credit."""
    dns = ProductGroup.objects.create(slug="dns", name="DNS")
    Product.objects.create(slug="dns-basic", group=dns, name="DNS Basic (5 zones)", kind="dns_plan")
    vps = ProductGroup.objects.create(slug="vps", name="Virtual servers")
    Product.objects.create(slug="vps-small", group=vps, name="VPS Small", kind="vps")
    user = User.objects.create_user(email=CUSTOMER_EMAIL, password="old-pass")
    customer = Customer.objects.create(user=user, name="Dana Demo", preferred_currency="USD")
    credit_entry_append(
        customer=customer,
        amount=Money(100, "USD"),
        kind="admin_add",
        idempotency_key="demo:welcome-credit",
    )

    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())

    assert not Product.objects.filter(slug="dns-basic").exists()
    assert not ProductGroup.objects.filter(slug="dns").exists()
    vps = Product.objects.get(slug="vps-small")
    assert vps.description
    assert (vps.module, vps.module_settings["stands_in_for"]) == ("sandbox", "virtfusion")
    assert credit_balance(customer=customer, currency="USD") == Money(1000, "USD")


def test_seed_demo_gives_the_staff_user_a_totp_device_and_prints_its_key(settings):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts import second_factor

    settings.DEBUG = True
    out = StringIO()
    call_command("seed_demo", stdout=out)
    device = TOTPDevice.objects.get(user__email=STAFF_EMAIL, confirmed=True)
    key = second_factor.totp_secret_text(device=device).replace(" ", "")
    assert key in out.getvalue()
    assert f"manage.py totp_code {STAFF_EMAIL}" in out.getvalue()
    call_command("seed_demo", stdout=StringIO())
    assert TOTPDevice.objects.filter(user__email=STAFF_EMAIL).count() == 1


def test_the_demo_staff_user_lands_on_a_dashboard_of_the_demo_business():
    """Issue 19, acceptance 1: figures and charts drawn from the demo data, and an attention
    list linking to the failed operation the demo seeds."""
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())  # idempotent: nothing twice
    assert Invoice.objects.filter(series=INVOICE_SERIES).count() == Payment.objects.filter(
        reference__startswith="demo-"
    ).count() + len(OVERDUE)
    failed = ProvisioningOperation.objects.get(idempotency_key=FAILED_OPERATION_KEY)
    client = Client()
    client.force_login(User.objects.get(email=STAFF_EMAIL))
    page = client.get("/admin/")
    html = page.content.decode()
    assert page.status_code == 200
    figures = {f.currency: f for f in page.context["currencies"]}
    usd = figures["USD"]
    assert usd.mrr.current > 0
    assert usd.revenue.previous > 0
    assert usd.overdue.current > 0
    assert page.context["services"].in_service.current == 8
    assert html.count('src="data:image/svg+xml;base64,') == 5  # every chart has data
    attention = {item.key: item for item in page.context["attention"]}
    assert attention["failed_operations"].count == 1
    assert attention["overdue_invoices"].count == len(OVERDUE)
    listing = client.get(attention["failed_operations"].url)
    assert f'href="/admin/provisioning/provisioningoperation/{failed.pk}/change/' in (
        listing.content.decode()
    )
