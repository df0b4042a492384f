"""Credit pages: balances, transactions (filter, pages, CSV), paying with credit, staff."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from accounts.tests.factories import UserFactory
from accounts.tests.helpers import assert_customer_isolation
from billing_portal.common.testing import usd
from credits import services
from credits.models import CreditAccount, CreditEntry

pytestmark = pytest.mark.django_db


def _give(customer, amount: str, key: str) -> None:
    services.credit_entry_append(
        customer=customer,
        amount=usd(amount),
        kind="admin_add",
        idempotency_key=key,
        description="Welcome credit",
    )


def test_balance_and_transactions_with_filter_and_pages(client, customer, other_customer):
    _give(customer, "25.00", "a")
    _give(other_customer, "99.00", "b")
    for n in range(24):
        services.credit_entry_append(
            customer=customer, amount=usd("-0.50"), kind="service_purchase", idempotency_key=f"s{n}"
        )
    client.force_login(customer.user)
    page = client.get(reverse("credits:overview"))
    assert b'data-testid="credit-balance">$13.00<' in page.content
    assert len(page.context["entries"]) == 20
    assert page.context["page_obj"].paginator.count == 25
    only = client.get(reverse("credits:overview"), {"kind": "admin_add"})
    assert [e.description for e in only.context["entries"]] == ["Welcome credit"]
    assert b"$99.00" not in page.content


def test_transactions_export_as_csv(client, customer, other_customer):
    _give(customer, "25.00", "a")
    _give(other_customer, "99.00", "b")
    client.force_login(customer.user)
    response = client.get(reverse("credits:transactions_csv"))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:4] == ["date (UTC)", "kind", "description", "amount"]
    assert [row[1:5] for row in rows[1:]] == [["Added by staff", "Welcome credit", "25.00", "USD"]]


def test_customer_pays_an_invoice_with_credit_from_its_page(client, customer, invoice_factory):
    _give(customer, "15.00", "a")
    invoice = invoice_factory(customer, amount="40.00", description="x")
    client.force_login(customer.user)
    page = client.get(reverse("invoices:invoice_detail", args=[invoice.pk])).content.decode()
    assert "Use account credit ($15.00)" in page
    url = reverse("credits:pay_invoice", args=[invoice.pk])
    response = client.post(url, {"nonce": "n1"}, follow=True)
    assert "$15.00 of account credit was applied." in response.content.decode()
    client.post(url, {"nonce": "n1"})  # a double submission
    invoice.refresh_from_db()
    assert invoice.amount_due == usd("25.00")
    assert CreditEntry.objects.filter(kind="invoice_payment").count() == 1


def test_paying_with_credit_is_hidden_from_other_customers(
    client, customer, other_customer, invoice_factory
):
    _give(customer, "15.00", "a")
    invoice = invoice_factory(customer, amount="40.00", description="x")
    assert_customer_isolation(
        client,
        urls=[reverse("credits:pay_invoice", args=[invoice.pk])],
        owner=customer,
        intruder=other_customer,
        method="post",
        data={"nonce": "x"},
    )


def test_staff_add_and_remove_credit(client, customer):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = reverse("admin:credits_change_credit")
    assert client.get(url).status_code == 200
    base = {"customer": customer.pk, "currency": "USD", "request_key": "r1"}
    no_reason = client.post(url, {**base, "direction": "add", "amount": "10", "reason": ""})
    assert no_reason.status_code == 200
    assert CreditEntry.objects.count() == 0
    client.post(url, {**base, "direction": "add", "amount": "10", "reason": "Goodwill"})
    client.post(url, {**base, "direction": "add", "amount": "10", "reason": "Goodwill"})  # again
    too_much = client.post(
        url, {**base, "request_key": "r2", "direction": "remove", "amount": "50", "reason": "x"}
    )
    assert "Cannot remove $50.00: the balance is only $10.00" in too_much.content.decode()
    assert CreditAccount.objects.get(customer=customer).balance == usd("10.00")
    changelist = client.get(reverse("admin:credits_creditentry_changelist"))
    assert changelist.status_code == 200
    assert client.get(reverse("admin:credits_creditentry_add")).status_code == 403


@pytest.mark.parametrize("nonce", ["\x00", "n" * 10_000, "<script>", "n\u202e1"])
def test_a_bad_nonce_is_refused_with_a_message_and_pays_nothing(
    client, customer, nonce, invoice_factory
):
    _give(customer, "15.00", "a")
    invoice = invoice_factory(customer, amount="40.00", description="x")
    client.force_login(customer.user)
    response = client.post(reverse("credits:pay_invoice", args=[invoice.pk]), {"nonce": nonce})
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    assert "This form has expired: reload the page and try again." in page
    invoice.refresh_from_db()
    assert invoice.amount_due == usd("40.00")
    assert not CreditEntry.objects.filter(kind="invoice_payment").exists()
