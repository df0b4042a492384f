"""The billing run's renewals in chunks: constant statements per chunk, one record per chunk,
and a chunk that runs twice (or fails) changes nothing it should not."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import CustomerFactory
from billing.models import BillingRun, BillingRunChunk
from billing.services import billing_run, billing_run_chunk
from billing.services import run as module
from billing_portal.common.audit import AuditEvent
from billing_portal.common.models import OutboxMessage
from billing_portal.common.testing import usd
from catalogue.tests.factories import ProductPriceFactory
from credits import services as credits
from invoices.audit import InvoiceAudit
from invoices.models import Invoice, InvoiceLine, InvoiceNotice
from provisioning.models import Service

pytestmark = pytest.mark.django_db

TODAY = date(2026, 1, 26)
DUE = date(2026, 2, 1)


@pytest.fixture
def product():
    return ProductPriceFactory(price=usd("10.00")).product


def _services(product, count: int, *, customers=None, due: date = DUE) -> list[Service]:
    customers = customers or [CustomerFactory() for _ in range(count)]
    return [
        Service.objects.create(
            customer=customers[n % len(customers)],
            product=product,
            cycle="monthly",
            currency="USD",
            recurring_amount=usd("10.00"),
            status="active",
            next_due_date=due,
        )
        for n in range(count)
    ]


def _chunk_queries(groups: list[list[int]]) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert module.renewals_renew(groups) == sum(len(group) for group in groups)
    return len(queries)


@pytest.mark.parametrize("combine", [False, True])
def test_a_chunk_runs_the_same_statements_for_5_or_50_renewals(product, settings, combine):
    settings.BILLING_COMBINE_RENEWALS = combine
    # a usage-billed plan, so the chunk reads usage and overage prices too
    product.usage_metric, product.usage_included = "bandwidth_gb", Decimal("100")
    product.save()
    small = _services(product, 5)
    large = _services(product, 50)
    # one customer with credit: its renewal is offered to the credit, the others cost nothing
    credits.credit_entry_append(
        customer=large[0].customer, amount=usd("5.00"), kind="admin_add", idempotency_key="k"
    )
    credits.credit_entry_append(
        customer=small[0].customer, amount=usd("5.00"), kind="admin_add", idempotency_key="k"
    )

    few = _chunk_queries([[s.pk] for s in small])
    many = _chunk_queries([[s.pk] for s in large])

    assert few == many
    assert few <= 12
    assert Invoice.objects.filter(status="unpaid").count() == 55
    assert InvoiceLine.objects.count() == 55
    issued = AuditEvent.objects.filter(action=InvoiceAudit.INVOICE_ISSUED).count()
    assert issued == OutboxMessage.objects.filter(task_name="common.email_send").count() == 55


def test_chunk_invoices_are_numbered_without_gaps_across_chunks(product, settings):
    settings.BILLING_RUN_CHUNK_SIZE = 2
    _services(product, 5)
    run = billing_run(today=TODAY)
    assert run.counts["renewals"] == 5
    numbers = sorted(Invoice.objects.values_list("sequence_number", flat=True))
    assert numbers == [1, 2, 3, 4, 5]
    assert Invoice.objects.filter(number="INV-2026-00005").exists()
    chunks = list(run.chunks.values_list("number", "status", "renewed"))
    assert chunks == [(1, "done", 2), (2, "done", 2), (3, "done", 1)]
    assert run.chunks_total == 3


def test_a_chunk_run_again_changes_nothing(product, settings):
    settings.BILLING_RUN_CHUNK_SIZE = 10
    _services(product, 3)
    run = billing_run(today=TODAY)
    chunk = run.chunks.get()
    invoices, events = Invoice.objects.count(), AuditEvent.objects.count()

    assert billing_run_chunk(chunk_id=chunk.pk) is False  # done: left alone
    BillingRunChunk.objects.filter(pk=chunk.pk).update(status="pending")  # delivered again
    assert billing_run_chunk(chunk_id=chunk.pk) is True
    chunk.refresh_from_db()
    assert (chunk.status, chunk.renewed, chunk.attempts) == ("done", 0, 2)
    assert (Invoice.objects.count(), AuditEvent.objects.count()) == (invoices, events)


def test_fan_out_runs_every_chunk_and_completes_the_run(product, settings):
    """CELERY_TASK_ALWAYS_EAGER (the test default): the chunk tasks run as they are sent."""
    from billing.tasks import billing_run_task

    settings.BILLING_RUN_CHUNK_SIZE = 2
    _services(product, 5)
    run = BillingRun.objects.get(pk=billing_run_task.delay().get())
    assert run.status == BillingRun.Status.COMPLETED
    assert run.counts["renewals"] == 5
    assert run.chunks.filter(status="done").count() == run.chunks_total == 3
    assert run.renewals_done_at is not None
    assert run.finished_at is not None
    assert Invoice.objects.count() == 5


def test_a_failing_chunk_is_recorded_and_the_others_go_on(product, settings, monkeypatch):
    settings.BILLING_RUN_CHUNK_SIZE = 2
    services = _services(product, 6)
    broken = services[2].pk
    real = module.renewal_lines

    def explode_for_one(service, *usage):
        if service.pk == broken:
            raise RuntimeError("tax service down")
        return real(service, *usage)

    monkeypatch.setattr(module, "renewal_lines", explode_for_one)
    run = billing_run(today=TODAY)

    assert run.status == BillingRun.Status.COMPLETED_WITH_ERRORS
    assert run.counts["renewals"] == 5
    assert [error["item"] for error in run.errors] == [repr([broken])]
    assert "tax service down" in run.errors[0]["error"]
    second = run.chunks.get(number=2)
    assert (second.status, second.renewed, len(second.errors)) == ("done", 1, 1)
    assert not InvoiceLine.objects.filter(service_id=broken).exists()
    assert InvoiceLine.objects.count() == 5


def test_combined_renewals_stay_whole_across_scan_pages(product, settings, monkeypatch):
    """A page of the scan never ends inside a customer: their renewals make one invoice."""
    settings.BILLING_COMBINE_RENEWALS = True
    settings.BILLING_RUN_CHUNK_SIZE = 2
    monkeypatch.setattr(module, "SCAN_PAGE", 3)
    first, second, third = (CustomerFactory() for _ in range(3))
    _services(product, 4, customers=[first])
    _services(product, 2, customers=[second])
    _services(product, 1, customers=[third])
    run = billing_run(today=TODAY)
    assert run.counts["renewals"] == 7
    per_customer = {
        customer.pk: Invoice.objects.filter(customer=customer).count()
        for customer in (first, second, third)
    }
    assert per_customer == {first.pk: 1, second.pk: 1, third.pk: 1}
    assert Invoice.objects.get(customer=first).lines.count() == 4


def test_only_customers_with_credit_are_offered_it(
    product, django_capture_on_commit_callbacks, monkeypatch
):
    offered: list[int] = []
    monkeypatch.setattr("billing.services.credit.credit_auto_apply", offered.append)
    with_credit, _without = _services(product, 2)
    credits.credit_entry_append(
        customer=with_credit.customer, amount=usd("5.00"), kind="admin_add", idempotency_key="k"
    )
    with django_capture_on_commit_callbacks(execute=True):
        billing_run(today=TODAY)
    assert offered == [InvoiceLine.objects.get(service=with_credit).invoice_id]


def test_a_zero_total_renewal_is_paid_and_renews_the_service(product):
    (service,) = _services(product, 1)
    Service.objects.filter(pk=service.pk).update(recurring_amount=usd("0.00"))
    run = billing_run(today=TODAY)
    assert run.counts["renewals"] == 1
    invoice = Invoice.objects.get()
    assert (invoice.status, invoice.amount_paid) == (Invoice.Status.PAID, usd("0.00"))
    service.refresh_from_db()
    assert service.next_due_date == date(2026, 3, 1)
    actions = AuditEvent.objects.filter(object_id=str(invoice.pk)).order_by("id")
    assert list(actions.values_list("action", flat=True)) == [
        InvoiceAudit.INVOICE_ISSUED,
        InvoiceAudit.INVOICE_PAID,
    ]


def test_chunk_renewals_are_priced_as_one_renewal_is(product, settings):
    """The set-based path and the one-at-a-time path price and freeze the same invoice."""
    from catalogue.models import TaxRate

    chunked, single = _services(product, 2, customers=[CustomerFactory(country="DE", region="")])
    TaxRate.objects.create(name="VAT", country="DE", rate=Decimal("20"))
    module.renewals_renew([[chunked.pk]])
    module._renew([single.pk])
    fields = (
        "status",
        "kind",
        "subtotal",
        "tax_total",
        "total",
        "tax_name",
        "tax_rate",
        "due_date",
        "seller_details",
        "prices_include_tax",
    )
    one, other = (
        Invoice.objects.filter(lines__service=s).values(*fields).get() for s in (chunked, single)
    )
    assert one == other
    assert one["tax_total"] == Decimal("2.00")
    line_fields = ("kind", "description", "period_start", "period_end", "amount", "tax", "total")
    lines = [
        InvoiceLine.objects.filter(service=s).values(*line_fields).get() for s in (chunked, single)
    ]
    assert lines[0] == lines[1]


def test_reminders_go_out_in_batches_of_constant_statements(product, settings):
    settings.BILLING_RUN_CHUNK_SIZE = 100
    _services(product, 5, due=date(2026, 1, 28))
    billing_run(today=date(2026, 1, 21))  # renewals issued, not yet "upcoming"
    assert not InvoiceNotice.objects.exists()
    few = list(Invoice.objects.values_list("pk", flat=True))
    _services(product, 40, due=date(2026, 1, 28))
    billing_run(today=date(2026, 1, 22))
    InvoiceNotice.objects.all().delete()
    many = list(Invoice.objects.values_list("pk", flat=True))

    def sent(ids: list[int]) -> int:
        items = [(pk, "upcoming") for pk in ids]
        with CaptureQueriesContext(connection) as queries:
            assert module.invoice_reminders_send(items=items) == len(ids)
        InvoiceNotice.objects.all().delete()
        return len(queries)

    assert sent(few) == sent(many) <= 4
    run = billing_run(today=date(2026, 1, 25))
    assert run.counts["reminders"] == 45
    assert billing_run(today=date(2026, 1, 25)).counts["reminders"] == 0


def test_the_admin_shows_each_runs_chunk_progress(product, settings, admin_client):
    from django.urls import reverse

    settings.BILLING_RUN_CHUNK_SIZE = 2
    _services(product, 5)
    run = billing_run(today=TODAY)
    BillingRunChunk.objects.filter(run=run, number=3).update(status="failed")

    listing = admin_client.get(reverse("admin:billing_billingrun_changelist"))
    assert listing.status_code == 200
    assert "2 / 3 done, 1 failed" in listing.content.decode()
    page = admin_client.get(reverse("admin:billing_billingrun_change", args=[run.pk]))
    assert page.status_code == 200
    assert "2 / 3 done, 1 failed" in page.content.decode()
    assert "billing run chunks" in page.content.decode().lower()  # the chunks, inline


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_takes_the_chunks_and_completes_the_run(product, settings, tmp_path):
    from billing.tasks import billing_run_chunk_task
    from billing_portal.common.testing import celery_worker, database_url_for_tests, wait_for

    settings.BILLING_RUN_CHUNK_SIZE = 2
    _services(product, 5)
    log = tmp_path / "worker.log"
    with celery_worker(log, env={"DATABASE_URL": database_url_for_tests()}) as (queue, _):
        run = billing_run(today=TODAY, fan_out=True, queue=queue)

        def finished() -> bool:
            run.refresh_from_db()
            return run.finished_at is not None

        assert wait_for(finished, 90), log.read_text()
        # a chunk delivered again changes nothing
        chunk = run.chunks.get(number=1)
        again = billing_run_chunk_task.apply_async([chunk.pk], queue=queue, ignore_result=False)
        assert again.get(timeout=60) is False, log.read_text()
    assert run.status == BillingRun.Status.COMPLETED
    assert run.counts["renewals"] == 5
    assert run.chunks.filter(status="done").count() == run.chunks_total == 3
    chunk.refresh_from_db()
    assert chunk.attempts == 1
    assert Invoice.objects.count() == 5
