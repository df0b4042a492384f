"""Issue 11 acceptance 3, in-process on a database prepared by `seed_demo`, with the embedded
defaults (local DNS backend with the demo delegation check, sandbox panels, tasks run in
the process) and the suite's network guard: a customer registers through the client area,
staff add demo credit through the admin's credit form, and the customer buys a DNS plan,
adds a demo zone with records, and orders and pays with credit one product of every kind,
each of which ends active."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from djmoney.money import Money

from accounts.models import User
from billing.management.commands.seed_demo import STAFF_EMAIL
from catalogue.models import Product
from credits.services import credit_balance
from dnszones.models import DnsAllowance, DnsOperation, Zone
from dnszones.tests.plans import dns_product
from invoices.models import Invoice
from provisioning.models import ProvisioningOperation, Service

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-unusual-passphrase-42"
EMAIL = "new.customer@example.org"


def _register_and_log_in(client: Client, mailoutbox, capture) -> User:
    with capture(execute=True):
        client.post(
            reverse("accounts:register"),
            {
                "name": "Nina New",
                "company": "",
                "email": EMAIL,
                "country": "GB",
                "password1": PASSWORD,
                "password2": PASSWORD,
            },
        )
    link = re.search(r"https?://\S+/accounts/verify/\S+/", mailoutbox[-1].body).group(0)
    client.get(link)
    response = client.post(reverse("accounts:login"), {"username": EMAIL, "password": PASSWORD})
    assert response.url == reverse("dashboard")
    return User.objects.get(email=EMAIL)


def _staff_add_credit(customer, amount: str) -> None:
    staff = Client()
    staff.force_login(User.objects.get(email=STAFF_EMAIL))
    url = reverse("admin:credits_change_credit")
    key = staff.get(url, {"customer": customer.pk}).context["form"].initial["request_key"]
    response = staff.post(
        url,
        {
            "customer": customer.pk,
            "direction": "add",
            "amount": amount,
            "currency": customer.preferred_currency,
            "reason": "Demo credit",
            "request_key": key,
        },
    )
    assert response.status_code == 302, response.content.decode()[-2000:]


def _buy_dns_plan(client: Client, plan: Product, capture):
    """The DNS plan purchase as the client area takes it (one place to adapt the steps)."""
    url = reverse("dns:plan_confirm", args=[plan.pk])
    page = client.get(url)  # the charge is shown first...
    shown = {
        "request_key": page.context["request_key"],
        "amount": str(page.context["quote"].amount.amount),
    }
    with capture(execute=True):
        return client.post(url, shown, follow=True)  # ...and invoiced, paid from credit


def _order_and_pay(client: Client, product: Product, capture) -> Service:
    form = client.get(reverse("orders:product", args=[product.slug])).context["form"]
    data = {"cycle": "monthly", "place": "1"}
    data |= {name: "0" for name in form.fields if name.startswith("option_")}
    if "domain" in form.fields:
        data["domain"] = f"{product.slug}.shop.test"
    if "hostname" in form.fields:
        data["hostname"] = f"{product.slug}.shop.test"
    response = client.post(reverse("orders:product", args=[product.slug]), data)
    assert response.status_code == 302, response.content.decode()[-2000:]
    invoice_page = client.get(response.url)
    with capture(execute=True):
        client.post(
            reverse("credits:pay_invoice", args=[invoice_page.context["invoice"].pk]),
            {"nonce": invoice_page.context["pay_nonce"]},
        )
    return Service.objects.get(customer__user__email=EMAIL, product=product)


def test_a_new_customer_with_demo_credit_buys_dns_adds_a_demo_zone_and_orders_every_kind(
    client, settings, mailoutbox, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    call_command("seed_demo", stdout=io.StringIO())
    assert (settings.DNS_BACKEND, settings.DNS_DELEGATION_CHECK) == ("local", "")
    assert settings.CELERY_TASK_ALWAYS_EAGER

    customer = _register_and_log_in(client, mailoutbox, capture).customer
    _staff_add_credit(customer, "1000")
    currency = customer.preferred_currency
    assert credit_balance(customer=customer, currency=currency) == Money(1000, currency)

    # a DNS plan, a demo zone and records
    page = _buy_dns_plan(client, dns_product("Basic"), capture).content.decode()
    dns_service = Service.objects.get(customer=customer, product__module="dns")
    assert dns_service.status == "active", page
    assert DnsAllowance.objects.get(customer=customer).serving
    with capture(execute=True):
        response = client.post(reverse("dns:zone_list"), {"action": "zone", "name": "shop.test"})
    zone = Zone.objects.get(customer=customer, name="shop.test")
    assert response.url == reverse("dns:zone_detail", args=[zone.pk])
    records = [
        ("@", "A", "192.0.2.10"),
        ("www", "CNAME", "shop.test."),
        ("@", "MX", "10 mail.shop.test."),
        ("@", "TXT", '"v=spf1 mx -all"'),
    ]
    for name, rtype, content in records:
        with capture(execute=True):
            response = client.post(
                response.url,
                {"action": "add", "name": name, "type": rtype, "ttl": "3600", "content": content},
            )
        assert response.status_code == 302, response.content.decode()[-2000:]
    assert zone.records.count() == len(records)
    assert set(DnsOperation.objects.values_list("status", flat=True)) == {"succeeded"}

    # one product of every kind in the catalogue (the DNS plans' group is not in it: they
    # are sold on the DNS page), each paid with credit and set up on the sandbox
    products = list(Product.objects.filter(is_visible=True, group__is_visible=True))
    assert {p.kind for p in products} == {
        "game_server",
        "vps",
        "web_hosting",
        "wordpress_site",
        "support",
    }
    for product in products:
        service = _order_and_pay(client, product, capture)
        assert service.status == Service.Status.ACTIVE, product.slug
        assert service.server.module == "sandbox"
        sandbox = client.get(reverse("provisioning:sandbox_panel", args=[service.pk]))
        assert sandbox.status_code == 200
    assert not Invoice.objects.filter(customer=customer, status="unpaid").exists()
    # (the demo's second customer has the one failed operation the dashboard points at)
    mine = ProvisioningOperation.objects.filter(service__customer=customer)
    assert not mine.exclude(status="succeeded").exists()
    assert credit_balance(customer=customer, currency=currency) > Money(Decimal(0), currency)
