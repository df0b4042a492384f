"""Recording payments once, holding what cannot be applied, recorded refunds."""

from __future__ import annotations

import pytest
from django.urls import reverse
from djmoney.money import Money

from accounts.tests.helpers import assert_customer_isolation
from billing import services as billing_services
from billing.services import payments as billing_payments
from billing_portal.common.audit import AuditEvent
from billing_portal.common.testing import usd
from invoices.models import CreditNote, Invoice
from payments.audit import PaymentAudit
from payments.errors import RefundNotPossible
from payments.models import Payment

pytestmark = pytest.mark.django_db


def _record(invoice, reference="pi_1", amount="100.00", **extra) -> Payment:
    return billing_services.payment_record(
        invoice_id=invoice.pk, gateway="stripe", reference=reference, amount=usd(amount), **extra
    )


@pytest.fixture
def paid_calls(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(billing_payments, "invoice_settled", lambda inv: calls.append(inv.pk))
    return calls


def test_a_payment_reported_ten_times_is_applied_once(paid_calls, invoice_factory):
    invoice = invoice_factory()
    payments = {_record(invoice, fee=usd("3.20")).pk for _ in range(10)}
    invoice.refresh_from_db()
    assert len(payments) == 1
    assert Payment.objects.count() == 1
    assert invoice.status == Invoice.Status.PAID
    assert invoice.amount_paid == usd("100.00")
    assert paid_calls == [invoice.pk]
    assert AuditEvent.objects.filter(action=PaymentAudit.PAYMENT_RECEIVED).count() == 1


def test_partial_payments_add_up_and_the_last_one_pays(paid_calls, invoice_factory):
    invoice = invoice_factory()
    _record(invoice, reference="bank-1", amount="40.00")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_due) == (Invoice.Status.UNPAID, usd("60.00"))
    assert paid_calls == []
    _record(invoice, reference="bank-2", amount="60.00")
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert paid_calls == [invoice.pk]


def test_payments_in_another_currency_are_held_not_applied(paid_calls, invoice_factory):
    invoice = invoice_factory()
    payment = billing_services.payment_record(
        invoice_id=invoice.pk, gateway="paypal", reference="CAP-1", amount=Money(100, "EUR")
    )
    invoice.refresh_from_db()
    assert payment.status == Payment.Status.HELD
    assert "in EUR" in payment.review_reason
    assert invoice.status == Invoice.Status.UNPAID
    assert invoice.amount_paid == usd("0")
    assert paid_calls == []
    assert AuditEvent.objects.get(action=PaymentAudit.PAYMENT_HELD).details["reason"]


def test_a_second_payment_for_a_paid_invoice_is_held(invoice_factory):
    invoice = invoice_factory()
    _record(invoice, reference="pi_1")
    second = _record(invoice, reference="pi_2")
    assert second.status == Payment.Status.HELD
    assert "nothing is due" in second.review_reason


def test_recorded_refund_issues_a_credit_note_and_keeps_services(invoice_factory):
    invoice = invoice_factory()
    payment = _record(invoice)
    billing_services.payment_refund_record(payment_id=payment.pk, amount=usd("25.00"), reason="SLA")
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == Payment.Status.PARTIALLY_REFUNDED
    assert invoice.status == Invoice.Status.PARTIALLY_REFUNDED
    assert CreditNote.objects.get().amount == usd("25.00")
    billing_services.payment_refund_record(
        payment_id=payment.pk, amount=usd("75.00"), reason="Closed"
    )
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REFUNDED
    assert AuditEvent.objects.filter(action=PaymentAudit.PAYMENT_REFUNDED).count() == 2


@pytest.mark.parametrize(
    ("amount", "reason"), [(usd("100.01"), "x"), (usd("0"), "x"), (usd("5"), " ")]
)
def test_bad_refunds_are_refused_and_change_nothing(amount, reason, invoice_factory):
    payment = _record(invoice_factory())
    with pytest.raises(RefundNotPossible):
        billing_services.payment_refund_record(payment_id=payment.pk, amount=amount, reason=reason)
    payment.refresh_from_db()
    assert payment.amount_refunded == usd("0")
    assert CreditNote.objects.count() == 0


def test_an_overpayment_pays_the_invoice_and_the_rest_becomes_account_credit(
    paid_calls, invoice_factory
):
    from credits.models import CreditEntry
    from credits.services import credit_balance

    invoice = invoice_factory()
    for _ in range(3):  # reported three times: applied and credited once
        payment = _record(invoice, reference="bank-9", amount="130.50")
    invoice.refresh_from_db()
    assert payment.status == Payment.Status.APPLIED
    assert (invoice.status, invoice.amount_paid) == (Invoice.Status.PAID, usd("100.00"))
    assert credit_balance(customer=invoice.customer, currency="USD") == usd("30.50")
    entry = CreditEntry.objects.get()
    assert (entry.kind, entry.amount) == (CreditEntry.Kind.OVERPAYMENT, usd("30.50"))
    assert paid_calls == [invoice.pk]


def test_refunding_a_held_payment_issues_no_credit_note(invoice_factory):
    invoice = invoice_factory()
    _record(invoice)
    held = _record(invoice, reference="pi_2", amount="150.00")
    billing_services.payment_refund_record(
        payment_id=held.pk, amount=usd("150.00"), reason="Overpaid"
    )
    held.refresh_from_db()
    assert held.status == Payment.Status.REFUNDED
    assert CreditNote.objects.count() == 0


# --- staff screens ------------------------------------------------------------------------


def test_staff_record_a_partial_bank_transfer(staff_client, invoice_factory):
    invoice = invoice_factory()
    url = reverse("admin:payments_payment_record")
    assert staff_client.get(url, {"invoice": invoice.pk}).status_code == 200
    response = staff_client.post(
        url,
        {
            "invoice": invoice.pk,
            "amount": "30.00",
            "received_on": "2026-03-02",
            "method": "bank_transfer",
            "reference": "SEPA-778",
        },
    )
    assert response.status_code == 302
    payment = Payment.objects.get()
    assert (payment.gateway, payment.method, payment.reference) == (
        "manual",
        "bank_transfer",
        "SEPA-778",
    )
    assert payment.received_at.date().isoformat() == "2026-03-02"
    invoice.refresh_from_db()
    assert invoice.amount_due == usd("70.00")


def test_staff_record_a_refund(staff_client, invoice_factory):
    payment = _record(invoice_factory())
    url = reverse("admin:payments_payment_refund", args=[payment.pk])
    refused = staff_client.post(url, {"amount": "500", "reason": "x"})
    assert "at most" in refused.content.decode()
    assert staff_client.post(url, {"amount": "10", "reason": "Goodwill"}).status_code == 302
    payment.refresh_from_db()
    assert payment.amount_refunded == usd("10.00")


# --- client area --------------------------------------------------------------------------


def test_payment_history_shows_own_payments_in_constant_queries(
    client, customer, other_customer, django_assert_max_num_queries, invoice_factory
):
    _record(invoice_factory(other_customer), reference="other")
    _record(invoice_factory(customer), reference="mine")
    client.force_login(customer.user)
    url = reverse("payments:payment_list")
    with django_assert_max_num_queries(10) as one:
        response = client.get(url)
    assert [p.reference for p in response.context["payments"]] == ["mine"]
    for n in range(49):
        _record(invoice_factory(customer), reference=f"mine-{n}")
    with django_assert_max_num_queries(10) as fifty:
        client.get(url)
    assert len(one.captured_queries) == len(fifty.captured_queries)


def test_invoice_page_lists_its_payments(client, customer, other_customer, issued_invoice):
    invoice = issued_invoice
    _record(invoice, reference="bank-1", amount="40.00", method="bank_transfer")
    client.force_login(customer.user)
    html = client.get(reverse("invoices:invoice_detail", args=[invoice.pk])).content.decode()
    assert 'data-testid="payments"' in html
    assert "Bank transfer" in html
    assert_customer_isolation(
        client,
        urls=[reverse("invoices:invoice_detail", args=[invoice.pk])],
        owner=customer,
        intruder=other_customer,
    )
