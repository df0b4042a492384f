"""Every DNS plan charge is shown before it is invoiced: buying or switching a plan first
shows the amount (prorated for a switch, a credit for a downgrade), the period it covers, the
plan and the renewal; only Confirm places the order or the change, once however often the
form is sent, and account credit pays its invoice at once when it covers it."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from catalogue.models import Product, ProductPrice
from credits.models import CreditEntry
from credits.services import credit_balance, credit_entry_append
from dnszones import services
from dnszones.models import Zone
from dnszones.tests.plans import after_commit, dns_product
from invoices.models import Invoice
from provisioning.models import Service

pytestmark = pytest.mark.django_db
START = date(2026, 3, 10)


def usd(value: str) -> Money:
    return Money(Decimal(value), "USD")


def _at(day: date):
    return time_machine.travel(
        timezone.make_aware(datetime.combine(day, datetime.min.time()) + timedelta(hours=12)),
        tick=False,
    )


def _fund(customer, amount: str) -> None:
    credit_entry_append(
        customer=customer, amount=usd(amount), kind="admin_add", idempotency_key=f"fund-{amount}"
    )


def _plan(name: str) -> Product:
    return dns_product(name)


def _service(customer) -> Service:
    return Service.objects.get(customer=customer, product__module="dns")


def _confirm_url(name: str) -> str:
    return reverse("dns:plan_confirm", args=[_plan(name).pk])


def _text(response) -> str:
    html = response.content.decode()
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace("\xa0", " ").split())


def _form(response) -> dict[str, str]:
    """The hidden fields of the page's Confirm form, as the browser would send them."""
    html = response.content.decode()
    form = re.search(r'<form[^>]*data-testid="confirm-form".*?</form>', html, re.S).group(0)
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form))


def _debits(customer) -> list[Money]:
    entries = CreditEntry.objects.filter(account__customer=customer).exclude(kind="admin_add")
    return [entry.amount for entry in entries.order_by("sequence")]


def test_buying_shows_the_charge_and_takes_nothing_until_confirmed(client, customer):
    _fund(customer, "12")
    client.force_login(customer.user)
    with _at(START):
        plans = client.get(reverse("dns:zone_list")).content.decode()
        assert f'href="{_confirm_url("Basic")}"' in plans  # the plan card leads to the quote
        page = client.get(_confirm_url("Basic"))
        text = _text(page)
        assert "Basic" in text
        assert "$5.00 is invoiced now and paid from your account credit when it covers it" in text
        assert "2026-03-10 \u2013 2026-04-10" in text  # the month it pays for
        assert "renews on 2026-04-10 at $5.00 a month" in text
        assert "Your account credit: $12.00 · after this: $7.00" in text
        assert f'href="{reverse("dns:zone_list")}"' in page.content.decode()  # Cancel
        assert _debits(customer) == []  # looking costs nothing
        assert not Service.objects.filter(customer=customer).exists()

        # the old one-click form no longer takes money
        client.post(
            reverse("dns:zone_list"),
            {"action": "buy", "plan": _plan("Basic").pk, "request_key": "one-click"},
        )
        assert _debits(customer) == []

        form = _form(page)
        with after_commit(execute=True):
            first = client.post(_confirm_url("Basic"), form)
        again = client.post(_confirm_url("Basic"), form)  # a double submission
    assert first.status_code == again.status_code == 302
    assert _debits(customer) == [usd("-5.00")]
    assert credit_balance(customer=customer, currency="USD") == usd("7.00")
    service = _service(customer)
    assert (service.product.name, service.status) == ("Basic", "active")
    invoice = Invoice.objects.get(customer=customer)  # the customer sees what they paid
    assert (invoice.kind, invoice.status, invoice.total) == ("order", "paid", usd("5.00"))


def _subscribed(customer, client, name="Basic") -> None:
    with _at(START), after_commit(execute=True):
        client.post(_confirm_url(name), _form(client.get(_confirm_url(name))))


def test_switching_up_shows_the_prorated_charge_for_the_rest_of_the_month(client, customer):
    _fund(customer, "100")
    client.force_login(customer.user)
    _subscribed(customer, client)
    halfway = START + timedelta(days=15)  # 16 of 31 days left
    with _at(halfway):
        page = client.get(_confirm_url("Pro"))
        text = _text(page)
        assert "Switch from Basic to Pro" in text
        assert (
            "$5.16 is invoiced now and paid from your account credit when it covers it" in text
        )  # 10 * 16 / 31
        assert "2026-03-25 \u2013 2026-04-10" in text
        assert "renews on 2026-04-10 at $15.00 a month" in text
        assert len(_debits(customer)) == 1
        with after_commit(execute=True):
            client.post(_confirm_url("Pro"), _form(page))
    assert _debits(customer) == [usd("-5.00"), usd("-5.16")]
    assert _service(customer).product.name == "Pro"
    upgrade = Invoice.objects.get(customer=customer, kind="upgrade")
    assert (upgrade.status, upgrade.total) == ("paid", usd("5.16"))


def test_switching_down_shows_the_credit_it_gives_back(client, customer):
    _fund(customer, "100")
    client.force_login(customer.user)
    _subscribed(customer, client, "Pro")
    halfway = START + timedelta(days=15)
    with _at(halfway):
        page = client.get(_confirm_url("Basic"))
        text = _text(page)
        assert "$5.16 will be added to your account credit" in text  # 10 * 16 / 31 back
        assert "renews on 2026-04-10 at $5.00 a month" in text
        with after_commit(execute=True):
            client.post(_confirm_url("Basic"), _form(page))
    assert _debits(customer) == [usd("-15.00"), usd("5.16")]
    assert _service(customer).product.name == "Basic"


def test_a_price_that_changed_after_it_was_shown_is_shown_again_not_taken(client, customer):
    _fund(customer, "100")
    client.force_login(customer.user)
    with _at(START):
        page = client.get(_confirm_url("Basic"))
        ProductPrice.objects.filter(product=_plan("Basic")).update(price=Decimal("6.00"))
        response = client.post(_confirm_url("Basic"), _form(page), follow=True)
    assert _debits(customer) == []
    assert "The price changed since it was shown" in _text(response)
    assert "$6.00 is invoiced now and paid from your account credit when it covers it" in _text(
        response
    )


def test_short_credit_is_said_before_confirming_and_the_invoice_waits(client, customer):
    _fund(customer, "2")
    client.force_login(customer.user)
    with _at(START):
        page = client.get(_confirm_url("Basic"))
        assert "Not enough account credit" in _text(page)
        assert f'href="{reverse("credits:overview")}"' in page.content.decode()
        with after_commit(execute=True):
            response = client.post(_confirm_url("Basic"), _form(page), follow=True)
    invoice = Invoice.objects.get(customer=customer)
    assert f"Invoice {invoice.number} for the Basic plan awaits payment" in _text(response)
    assert (invoice.status, _service(customer).status) == ("unpaid", "pending")
    assert _debits(customer) == []  # the usual reminders follow, as for any order
    assert "awaits payment" in _text(client.get(reverse("dns:zone_list")))


def test_a_switch_the_limits_forbid_is_explained_without_a_confirm_button(
    client, customer, monkeypatch
):
    monkeypatch.setattr(services, "delegation_check", lambda name: None)
    _fund(customer, "100")
    client.force_login(customer.user)
    _subscribed(customer, client, "Pro")
    for n in range(4):
        services.zone_create(customer=customer, name=f"site{n}.example")
    with _at(START):
        response = client.get(_confirm_url("Basic"), follow=True)
        assert "allows 3 domains; you have 4" in _text(response)
        assert 'data-testid="confirm-form"' not in response.content.decode()
        already = client.get(_confirm_url("Pro"), follow=True)
        assert "You already have the Pro plan" in _text(already)
    assert Zone.objects.count() == 4


def test_unknown_and_withdrawn_plans_answer_404(client, customer):
    client.force_login(customer.user)
    Product.objects.filter(pk=_plan("Enterprise").pk).update(is_visible=False)
    assert client.get(reverse("dns:plan_confirm", args=[999999])).status_code == 404
    assert client.get(_confirm_url("Enterprise")).status_code == 404
    assert client.post(_confirm_url("Enterprise"), {"request_key": "x"}).status_code == 404
