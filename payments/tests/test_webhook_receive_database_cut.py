"""A database connection lost while a webhook is being stored (issue 12, outages lose
nothing): the provider gets a 5xx, so it delivers again, and nothing half-written remains
(neither the event nor its queued processing); the redelivery is then applied once.

This process's own connection reaches PostgreSQL through a loopback relay that the test
cuts right before the receiving statement runs."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.db import connection
from djmoney.money import Money

from accounts.tests.factories import CustomerFactory
from billing import services as billing_services
from billing_portal.common.models import OutboxMessage
from billing_portal.common.testing import CuttableRelay
from invoices import services as invoice_services
from invoices.models import Invoice
from payments.models import Payment, WebhookEvent
from payments.tests import stripe_events as se

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

URL = "/webhooks/stripe/"


@pytest.fixture
def relayed_database() -> Iterator[CuttableRelay]:
    """This process's database connection, from the next query on, through a relay."""
    db = connection.settings_dict
    relay = CuttableRelay((db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)))
    saved = db["HOST"], db["PORT"]
    connection.close()
    db["HOST"], db["PORT"] = "127.0.0.1", str(relay.port)
    try:
        yield relay
    finally:
        relay.restore()
        connection.close()
        db["HOST"], db["PORT"] = saved
        relay.close()


def _unpaid_invoice() -> Invoice:
    line = invoice_services.LineDraft(
        kind="manual", description="Work", unit_price=Money(Decimal("100"), "USD")
    )
    draft = invoice_services.invoice_create_draft(
        customer=CustomerFactory(), currency="USD", lines=[line]
    )
    return billing_services.invoice_issue(invoice_id=draft.pk)


def _server_drops_cut_sessions() -> None:
    # The server ends a session whose client vanished once it notices (at the latest by
    # TCP keepalive); here it sometimes did not for minutes. End the cut session as the
    # server would (its transaction rolls back), so the redelivery does not wait on it.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
            "current_database() AND pid <> pg_backend_pid() AND state LIKE 'idle in%'"
        )


# The event and its queued processing are one statement (a CTE inserting both): cut right
# before it, neither is stored.
@pytest.mark.parametrize(
    "statement",
    ['WITH new_row AS (INSERT INTO "payments_webhookevent"'],
    ids=["at-the-event-and-its-processing"],
)
def test_a_database_cut_while_storing_a_webhook_answers_5xx_and_leaves_nothing(
    client, stripe_settings, relayed_database, statement
):
    invoice = _unpaid_invoice()
    OutboxMessage.objects.all().delete()  # the invoice's own email, sent already
    payload = se.event("payment_intent.succeeded", se.payment_intent(invoice.pk, amount=10000))
    body, headers = se.signed(payload)

    def cut_before(execute, sql, params, many, context):
        if sql.startswith(statement):
            relayed_database.cut()
        return execute(sql, params, many, context)

    with connection.execute_wrapper(cut_before):
        response = client.post(URL, body, content_type="application/json", **headers)
    assert response.status_code == 503
    assert response["Retry-After"]
    relayed_database.restore()
    _server_drops_cut_sessions()
    assert WebhookEvent.objects.count() == 0
    assert OutboxMessage.objects.count() == 0
    assert Payment.objects.count() == 0

    # The provider delivers again: stored, queued and applied once; a further redelivery
    # is acknowledged as a duplicate and changes nothing.
    retried = client.post(URL, body, content_type="application/json", **headers)
    assert retried.status_code == 200
    assert retried.json() == {"received": True, "duplicate": False}
    again = client.post(URL, body, content_type="application/json", **headers)
    assert again.json() == {"received": True, "duplicate": True}
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.PROCESSED
    assert OutboxMessage.objects.filter(task_name="payments.webhook_event_process").count() == 1
    assert Payment.objects.count() == 1
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
