"""Two billing runs at once, on a real PostgreSQL server."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from djmoney.money import Money

from accounts.tests.factories import CustomerFactory
from billing.models import BillingRun
from billing.services import billing_run
from billing_portal.common.testing import errors_of, run_together
from catalogue.tests.factories import ProductPriceFactory
from invoices.models import Invoice, InvoiceNotice
from provisioning.models import Service

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SERVICES = 30


def test_concurrent_runs_do_the_work_once():
    product = ProductPriceFactory().product
    for n in range(SERVICES):
        Service.objects.create(
            customer=CustomerFactory(),
            product=product,
            cycle="monthly",
            currency="USD",
            recurring_amount=Money(Decimal("10"), "USD"),
            status="active",
            # a third overdue since Jan 20 (suspend + reminders), the rest due soon (renew)
            next_due_date=date(2026, 1, 20) if n % 3 == 0 else date(2026, 2, 1),
        )
    billing_run(today=date(2026, 1, 19))  # issues every renewal once, unpaid from here on
    outcomes = run_together([lambda: billing_run(today=date(2026, 1, 26))] * 2)
    assert errors_of(outcomes) == []
    assert Invoice.objects.count() == SERVICES
    assert Service.objects.filter(status="suspended").count() == SERVICES // 3
    # the ten due Jan 20: "upcoming" on the 19th, "overdue_2" (6 days late) on the 26th
    notices = list(InvoiceNotice.objects.values_list("invoice_id", "kind"))
    assert len(notices) == len(set(notices)) == 2 * (SERVICES // 3)
    runs = BillingRun.objects.filter(as_of=date(2026, 1, 26))
    assert all(run.errors == [] for run in runs)
    assert sum(run.counts["suspended"] for run in runs) == SERVICES // 3
