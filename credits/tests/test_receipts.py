"""A document for every debit of account credit: an invoice payment (DNS plans bought,
switched and renewed included: they are invoiced like any service) links to its invoice,
every other debit (credit removed by staff, a DNS plan bought before DNS plans were invoiced)
to a printable receipt made from the ledger entry itself, which only its customer can open."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.urls import reverse

from accounts.tests.factories import UserFactory
from accounts.tests.helpers import assert_customer_isolation
from billing import services as billing_services
from billing_portal.common.testing import usd
from credits import services
from credits.models import CreditEntry
from dnszones.tests.plans import after_commit, at, buy, dns_product, run
from invoices import services as invoice_services
from invoices.models import Invoice

pytestmark = pytest.mark.django_db


def _fund(customer, amount: str = "100.00") -> CreditEntry:
    return services.credit_entry_append(
        customer=customer,
        amount=usd(amount),
        kind="admin_add",
        idempotency_key=f"fund-{customer.pk}",
    )


def _pay_an_invoice(customer):
    line = invoice_services.LineDraft(kind="manual", description="x", unit_price=usd("10.00"))
    draft = invoice_services.invoice_create_draft(customer=customer, currency="USD", lines=[line])
    invoice = billing_services.invoice_issue(invoice_id=draft.pk)
    billing_services.credit_pay_invoice(
        customer=customer, invoice_id=invoice.pk, idempotency_key="pay"
    )
    return invoice


def _old_dns_debit(customer) -> CreditEntry:
    """A DNS plan debit as the DNS app wrote them before DNS plans were invoiced."""
    return services.credit_entry_append(
        customer=customer,
        amount=usd("-5.00"),
        kind=CreditEntry.Kind.SERVICE_PURCHASE,
        idempotency_key="dns:old",
        description="DNS plan Basic, one month",
    )


def _rows(html: str) -> list[str]:
    table = re.search(r'data-testid="credit-entries".*?</table>', html, re.S).group(0)
    return re.findall(r"<tr>.*?</tr>", table, re.S)[1:]  # without the header


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace("\xa0", " ").split())


def test_every_debit_on_the_transactions_list_opens_a_document(client, customer):
    _fund(customer)
    invoice = _pay_an_invoice(customer)
    with at(date(2026, 3, 10)):
        service, _ = buy(customer)
    with at(date(2026, 3, 25)), after_commit(execute=True):  # a prorated switch
        change = billing_services.plan_change_request(
            customer=customer, service_id=service.pk, to_product_id=dns_product("Pro").pk
        )
        billing_services.credit_pay_invoice_if_covered(
            customer=customer, invoice_id=change.invoice_id
        )
    with at(date(2026, 4, 3)):
        run(date(2026, 4, 3))  # the renewal, paid from credit
    assert Invoice.objects.filter(customer=customer, status="paid").count() == 4
    services.credit_remove_by_staff(
        customer=customer,
        amount=usd("1.00"),
        reason="typo fix",
        staff=UserFactory(is_staff=True),
        request_key="rm",
    )
    client.force_login(customer.user)
    html = client.get(reverse("credits:overview")).content.decode()

    debits = CreditEntry.objects.filter(account__customer=customer, amount__lt=0)
    assert debits.count() == 5
    rows = _rows(html)
    debit_rows = [row for row in rows if "text-danger" in row]
    assert len(debit_rows) == 5
    for row in debit_rows:
        assert 'data-testid="entry-document"' in row, row
    paid = next(row for row in debit_rows if invoice.number in row)
    assert f'href="{reverse("invoices:invoice_detail", args=[invoice.pk])}"' in paid
    for entry in debits.exclude(kind=CreditEntry.Kind.INVOICE_PAYMENT):
        assert f'href="{reverse("credits:receipt", args=[entry.pk])}"' in html


def test_the_receipt_says_who_sold_what_to_whom_when_and_what_is_left(client, customer, settings):
    settings.SELLER_DETAILS = {
        **settings.SELLER_DETAILS,
        "name": "Seller Hosting Ltd",
        "tax_id": "GB123456789",
    }
    _fund(customer)
    entry = _old_dns_debit(customer)
    client.force_login(customer.user)
    response = client.get(reverse("credits:receipt", args=[entry.pk]))
    assert response.status_code == 200
    text = _text(response.content.decode())
    assert "Receipt USD-" in text
    assert "Seller Hosting Ltd" in text
    assert "GB123456789" in text
    assert customer.name in text
    assert customer.user.email in text
    assert entry.created_at.strftime("%Y-%m-%d") in text
    assert "DNS plan Basic, one month" in text
    assert "$5.00" in text  # the amount taken
    assert "Paid from account credit" in text
    assert "Balance after: $95.00" in text


def test_receipts_are_the_customers_own_and_only_for_debits(client, customer, other_customer):
    credit = _fund(customer)
    entry = _old_dns_debit(customer)
    assert_customer_isolation(
        client,
        urls=[reverse("credits:receipt", args=[entry.pk])],
        owner=customer,
        intruder=other_customer,
    )
    client.force_login(customer.user)
    assert client.get(reverse("credits:receipt", args=[credit.pk])).status_code == 404
    assert client.get(reverse("credits:receipt", args=[999999])).status_code == 404
