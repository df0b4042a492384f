"""Staff list pages run the same number of SQL queries for 1 and for 50 rows."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from djmoney.money import Money

from accounts.tests.factories import AuditEventFactory, CustomerFactory, UserFactory
from invoices import services
from invoices.models import BillingRun, Order
from invoices.tests.factories import CouponFactory, ProductFactory, ProductPriceFactory
from provisioning.models import Service

pytestmark = pytest.mark.django_db


def _invoice():
    line = services.LineDraft(kind="manual", description="x", unit_price=Money(Decimal("1"), "USD"))
    draft = services.invoice_create_draft(customer=CustomerFactory(), currency="USD", lines=[line])
    services.invoice_issue(invoice_id=draft.pk)


def _service():
    Service.objects.create(
        customer=CustomerFactory(), product=ProductPriceFactory().product, cycle="monthly",
        currency="USD", recurring_amount=Money(Decimal("5"), "USD"),
    )  # fmt: skip


def _credit_note():
    line = services.LineDraft(kind="manual", description="x", unit_price=Money(Decimal("9"), "USD"))
    draft = services.invoice_create_draft(customer=CustomerFactory(), currency="USD", lines=[line])
    services.invoice_issue(invoice_id=draft.pk)
    services.invoice_mark_paid(invoice_id=draft.pk)
    services.credit_note_issue(invoice_id=draft.pk, amount=Money(Decimal("1"), "USD"), reason="x")


def _payment():
    from payments.services import payment_record

    line = services.LineDraft(kind="manual", description="x", unit_price=Money(Decimal("9"), "USD"))
    draft = services.invoice_create_draft(customer=CustomerFactory(), currency="USD", lines=[line])
    services.invoice_issue(invoice_id=draft.pk)
    payment_record(
        invoice_id=draft.pk, gateway="manual", reference=f"ref-{draft.pk}",
        amount=Money(Decimal("9"), "USD"),
    )  # fmt: skip


def _webhook_event():
    from payments.models import WebhookEvent

    n = WebhookEvent.objects.count()
    WebhookEvent.objects.create(provider="stripe", event_id=f"evt_{n}", event_type="x", body="{}")


def _credit():
    from credits.services import credit_entry_append

    customer = CustomerFactory()
    credit_entry_append(customer=customer, amount=Money(Decimal("5"), "USD"),
                        kind="admin_add", idempotency_key="k")  # fmt: skip


BUILDERS = {
    "credits_creditaccount": _credit,
    "credits_creditentry": _credit,
    "payments_payment": _payment,
    "payments_webhookevent": _webhook_event,
    "invoices_creditnote": _credit_note,
    "accounts_customer": CustomerFactory,
    "accounts_user": UserFactory,
    "accounts_auditevent": AuditEventFactory,
    "invoices_invoice": _invoice,
    "invoices_order": lambda: Order.objects.create(customer=CustomerFactory()),
    "invoices_product": ProductFactory,
    "invoices_coupon": CouponFactory,
    "invoices_billingrun": lambda: BillingRun.objects.create(as_of=date(2026, 1, 1)),
    "provisioning_service": _service,
}


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("model", BUILDERS)
def test_changelist_queries_do_not_grow_with_rows(client, model):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = reverse(f"admin:{model}_changelist")
    BUILDERS[model]()
    one = _queries(client, url)
    for _ in range(49):
        BUILDERS[model]()
    assert _queries(client, url) == one
