"""Idempotency-Key under concurrency, on a real PostgreSQL server: requests with one key at
the same moment have one effect; those that arrive while the first runs get 409, those after
it its answer again."""

from __future__ import annotations

import threading

import pytest
from django.test import Client

from accounts import services as account_services
from accounts.tests.factories import CustomerFactory
from billing.api import views
from billing_portal.common.testing import errors_of, run_together, usd
from credits.models import CreditEntry
from credits.services import credit_entry_append
from invoices.models import Invoice
from payments.models import Payment

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def paying(invoice_factory):
    """A customer with credit, an unpaid invoice of theirs and a key that may pay it."""
    customer = CustomerFactory()
    credit_entry_append(customer=customer, amount=usd("500"), kind="admin_add", idempotency_key="g")
    invoice = invoice_factory(customer, "40")
    new = account_services.api_key_create(user=customer.user, name="t", scopes=["billing"])
    return invoice, f"Bearer {new.token}"


def _post(invoice: Invoice, auth: str, key: str):
    client = Client(HTTP_AUTHORIZATION=auth)
    return client.post(f"/api/v1/invoices/{invoice.pk}/pay-with-credit/", HTTP_IDEMPOTENCY_KEY=key)


def test_a_second_request_while_the_first_runs_is_409(paying, monkeypatch):
    invoice, auth = paying
    started, release = threading.Event(), threading.Event()
    original = views.billing.credit_pay_invoice

    def slow(**kwargs):
        started.set()
        assert release.wait(30)
        return original(**kwargs)

    monkeypatch.setattr(views.billing, "credit_pay_invoice", slow)
    first: list = []
    thread = threading.Thread(target=lambda: first.append(_post(invoice, auth, "same")))
    thread.start()
    assert started.wait(30)
    # when: the same request again while the first is inside the service
    second = _post(invoice, auth, "same")
    release.set()
    thread.join(30)
    # then
    assert second.status_code == 409
    assert second.json()["code"] == "idempotency_key_in_use"
    assert first[0].status_code == 200
    third = _post(invoice, auth, "same")
    # the replay is the first answer byte for byte
    assert (third.status_code, third.content) == (200, first[0].content)
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_twenty_at_once_have_one_effect(paying):
    invoice, auth = paying
    outcomes = run_together([lambda: _post(invoice, auth, "burst")] * 20)
    assert errors_of(outcomes) == []
    statuses = sorted(response.status_code for response in outcomes)
    fresh = [
        r for r in outcomes if r.status_code == 200 and not r.has_header("Idempotent-Replayed")
    ]
    # one ran; each other one was either refused while it ran or given its answer after
    assert len(fresh) == 1
    assert set(statuses) <= {200, 409}
    # and one more afterwards is surely a replay: every 200 is the same bytes
    outcomes.append(_post(invoice, auth, "burst"))
    assert outcomes[-1].has_header("Idempotent-Replayed")
    bodies = {r.content for r in outcomes if r.status_code == 200}
    assert len(bodies) == 1
    assert CreditEntry.objects.filter(kind="invoice_payment").count() == 1
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert Invoice.objects.get(pk=invoice.pk).status == "paid"
    # and a different body with the key, afterwards: 422
    client = Client(HTTP_AUTHORIZATION=auth)
    response = client.post(
        f"/api/v1/invoices/{invoice.pk}/pay-with-credit/",
        {"other": 1},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="burst",
    )
    assert response.status_code == 422
