"""Cancellation (issue 15): at the end of the paid period through the daily billing run with
a moving clock (no renewal invoice after the request, terminated on its due date), at once
with and without a refund to credit, withdrawal, unpaid renewals cancelled, double submits
idempotent, and what may not be cancelled."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import responses
import time_machine
from django.utils import timezone

from accounts.tests.factories import CustomerFactory
from billing import services as billing
from billing.services import billing_run
from billing_portal.common.audit import AuditEvent
from billing_portal.common.testing import drop_unfired, usd
from catalogue.models import Coupon
from catalogue.tests.factories import (
    CouponFactory,
    ProductFactory,
    ProductPriceFactory,
    TaxRateFactory,
)
from credits.models import CreditEntry
from credits.services import credit_balance
from invoices.models import Invoice, InvoiceNotice
from payments.models import GatewayPlan, GatewaySubscription
from payments.tests.test_paypal import API, TOKEN
from provisioning.errors import CancellationRefused
from provisioning.models import CancellationRequest, ProvisioningOperation, Service
from provisioning.tests.factories import ServerFactory, service_on

pytestmark = pytest.mark.django_db

START = date(2026, 1, 1)  # ordered and paid: the first period runs to Jan 31
DUE = date(2026, 2, 1)
END, NOW = CancellationRequest.Kind.END_OF_PERIOD, CancellationRequest.Kind.IMMEDIATE


def _at(day: date):
    return time_machine.travel(datetime(day.year, day.month, day.day, 3, tzinfo=UTC), tick=False)


class Timeline:
    """The billing run on each day, twice (the second changes nothing), as in test_run."""

    def __init__(self, capture) -> None:
        self.capture = capture
        self.day = START

    def run_until(self, end: date) -> None:
        while self.day <= end:
            with _at(self.day), self.capture(execute=True):
                first, second = billing_run(), billing_run()
            assert first.errors == [], first.errors
            assert set(second.counts.values()) == {0}, (self.day, second.counts)
            self.day += timedelta(days=1)

    def act(self, action):
        with _at(self.day), self.capture(execute=True):
            return action()


def _product(refund: bool = False):
    product = ProductFactory(name="Rust server", refund_on_immediate_cancel=refund)
    ProductPriceFactory(product=product, cycle="monthly", price=usd("10.00"))
    return product


def _ordered(customer, timeline: Timeline, product, coupon_code: str = "") -> Service:
    def place() -> Service:
        request = billing.OrderRequest(
            product=product, cycle="monthly", currency="USD", coupon_code=coupon_code
        )
        order = billing.order_place(customer=customer, request=request)
        billing.invoice_mark_paid(invoice_id=order.invoices.get().pk)
        return Service.objects.get(order=order)

    service = timeline.act(place)
    assert (service.status, service.next_due_date) == (Service.Status.ACTIVE, DUE)
    return service


def _active(customer, product, *, due: date) -> Service:
    """An active monthly service of 10.00 USD due on `due`, with no invoice behind it."""
    return Service.objects.create(
        customer=customer,
        product=product,
        cycle="monthly",
        currency="USD",
        recurring_amount=Decimal("10.00"),
        status="active",
        next_due_date=due,
    )


def _cancel(customer, service, kind, **extra):
    return billing.service_cancellation_request(
        customer=customer,
        service_id=service.pk,
        kind=kind,
        reason=extra.pop("reason", "too_expensive"),
        reason_text=extra.pop("reason_text", "Cheaper elsewhere"),
        actor=customer.user,
        **extra,
    )


def _subjects(mailoutbox) -> list[str]:
    return [message.subject for message in mailoutbox]


def test_end_of_period_no_renewal_after_the_request_and_terminated_on_its_due_date(
    customer, mailoutbox, django_capture_on_commit_callbacks
):
    timeline = Timeline(django_capture_on_commit_callbacks)
    service = _ordered(customer, timeline, _product())
    timeline.run_until(date(2026, 1, 10))
    mailoutbox.clear()

    request = timeline.act(lambda: _cancel(customer, service, END))
    assert (request.kind, request.status, request.effective_on) == (END, "requested", DUE)
    service.refresh_from_db()
    assert service.ends_on == DUE
    assert _subjects(mailoutbox) == [f"Your service {service} will end on 2026-02-01"]

    # the renewal would be issued on Jan 25: it is not; the service runs to its last day
    timeline.run_until(date(2026, 1, 31))
    service.refresh_from_db()
    assert service.status == Service.Status.ACTIVE
    assert not Invoice.objects.filter(kind=Invoice.Kind.RENEWAL).exists()

    timeline.run_until(date(2026, 3, 5))
    service.refresh_from_db()
    assert service.status == Service.Status.TERMINATED
    assert service.terminated_at.date() == DUE
    request.refresh_from_db()
    assert (request.status, request.completed_at.date(), request.refund) == ("completed", DUE, None)
    assert list(Invoice.objects.values_list("kind", flat=True)) == ["order"]  # nothing more
    # one message at the end: the cancellation's, not a second "terminated" one
    assert _subjects(mailoutbox)[1:] == [f"Your service {service} is cancelled"]
    actions = AuditEvent.objects.filter(object_id=str(service.pk)).values_list("action", flat=True)
    assert {"service.cancellation_requested", "service.cancellation_completed"} <= set(actions)


def _renewal_issued_jan_25(customer, timeline: Timeline) -> tuple[Service, Invoice]:
    service = _ordered(customer, timeline, _product())
    timeline.run_until(date(2026, 1, 26))
    renewal = Invoice.objects.get(kind=Invoice.Kind.RENEWAL)  # issued Jan 25, due Feb 1
    assert (renewal.status, renewal.due_date) == (Invoice.Status.UNPAID, DUE)
    return service, renewal


def test_a_renewal_issued_before_the_request_is_cancelled_at_once_and_never_reminded(
    customer, mailoutbox, django_capture_on_commit_callbacks
):
    timeline = Timeline(django_capture_on_commit_callbacks)
    service, renewal = _renewal_issued_jan_25(customer, timeline)
    quote = timeline.act(lambda: billing.cancellation_quote(service=service, kind=END))
    assert quote.unpaid_renewals == (renewal.number,)  # shown before the customer confirms

    timeline.act(lambda: _cancel(customer, service, END))
    renewal.refresh_from_db()
    assert renewal.status == Invoice.Status.CANCELLED
    cancelled = AuditEvent.objects.get(action="invoice.cancelled", object_id=str(renewal.pk))
    assert cancelled.details["reason"] == "service cancelled by the customer"

    # the upcoming (Jan 29) and due (Feb 1) reminders, and any late fee, never come
    mailoutbox.clear()
    timeline.run_until(date(2026, 3, 5))
    assert not InvoiceNotice.objects.filter(invoice=renewal).exists()
    assert not Invoice.objects.filter(kind=Invoice.Kind.LATE_FEE).exists()
    service.refresh_from_db()
    assert (service.status, service.terminated_at.date()) == (Service.Status.TERMINATED, DUE)
    assert sorted(Invoice.objects.values_list("kind", "status")) == [
        ("order", "paid"),
        ("renewal", "cancelled"),  # nothing more was billed
    ]
    assert _subjects(mailoutbox) == [f"Your service {service} is cancelled"]


def test_withdrawn_after_its_renewal_was_cancelled_the_renewal_is_issued_again_and_paid(
    customer, django_capture_on_commit_callbacks
):
    timeline = Timeline(django_capture_on_commit_callbacks)
    service, renewal = _renewal_issued_jan_25(customer, timeline)
    timeline.act(lambda: _cancel(customer, service, END))
    timeline.run_until(date(2026, 1, 27))  # no renewal for the cancelled period meanwhile
    assert Invoice.objects.filter(kind=Invoice.Kind.RENEWAL).count() == 1

    timeline.act(
        lambda: billing.service_cancellation_withdraw(customer=customer, service_id=service.pk)
    )
    again = Invoice.objects.get(kind=Invoice.Kind.RENEWAL, status=Invoice.Status.UNPAID)
    assert again.pk != renewal.pk  # issued at once, as the run would (the same period)
    line = again.lines.get()
    assert (again.due_date, line.period_start, line.period_end, again.total) == (
        DUE,
        DUE,
        date(2026, 2, 28),
        usd("10.00"),
    )
    assert renewal.lines.get().period_released  # the cancelled one gave its period back

    timeline.run_until(date(2026, 1, 29))  # the run issues no second one; reminders go out
    assert Invoice.objects.filter(kind=Invoice.Kind.RENEWAL).count() == 2
    assert InvoiceNotice.objects.filter(invoice=again, kind="upcoming").exists()
    timeline.act(lambda: billing.invoice_mark_paid(invoice_id=again.pk))
    timeline.run_until(date(2026, 2, 10))
    service.refresh_from_db()
    assert (service.status, service.next_due_date, service.ends_on) == (
        Service.Status.ACTIVE,
        date(2026, 3, 1),
        None,
    )


def test_withdrawn_long_before_its_end_the_run_issues_the_renewal(
    customer, django_capture_on_commit_callbacks
):
    timeline = Timeline(django_capture_on_commit_callbacks)
    service = _ordered(customer, timeline, _product())
    timeline.act(lambda: _cancel(customer, service, END))
    timeline.act(
        lambda: billing.service_cancellation_withdraw(customer=customer, service_id=service.pk)
    )
    assert not Invoice.objects.filter(kind=Invoice.Kind.RENEWAL).exists()  # not due yet
    timeline.run_until(date(2026, 1, 25))
    assert Invoice.objects.get(kind=Invoice.Kind.RENEWAL).due_date == DUE


def test_a_combined_renewal_is_cancelled_and_the_other_service_billed_again(
    customer, settings, django_capture_on_commit_callbacks
):
    settings.BILLING_COMBINE_RENEWALS = True
    timeline = Timeline(django_capture_on_commit_callbacks)
    product = _product()
    kept, cancelled = (_ordered(customer, timeline, product) for _ in range(2))
    timeline.run_until(date(2026, 1, 26))
    combined = Invoice.objects.get(kind=Invoice.Kind.RENEWAL)
    assert combined.lines.count() == 2

    timeline.act(lambda: _cancel(customer, cancelled, END))
    combined.refresh_from_db()
    assert combined.status == Invoice.Status.CANCELLED
    alone = Invoice.objects.get(kind=Invoice.Kind.RENEWAL, status=Invoice.Status.UNPAID)
    assert [line.service_id for line in alone.lines.all()] == [kept.pk]
    assert (alone.due_date, alone.total) == (DUE, usd("10.00"))


def test_withdrawn_before_its_end_the_service_renews_as_before(
    customer, mailoutbox, django_capture_on_commit_callbacks
):
    timeline = Timeline(django_capture_on_commit_callbacks)
    service = _ordered(customer, timeline, _product())
    timeline.run_until(date(2026, 1, 10))
    timeline.act(lambda: _cancel(customer, service, END))
    timeline.run_until(date(2026, 1, 20))
    mailoutbox.clear()

    def withdraw():
        return billing.service_cancellation_withdraw(
            customer=customer, service_id=service.pk, actor=customer.user
        )

    withdrawn = timeline.act(withdraw)
    assert withdrawn.status == "withdrawn"
    assert timeline.act(withdraw).pk == withdrawn.pk  # twice: the same, nothing more
    assert _subjects(mailoutbox) == [f"Your service {service} will continue"]
    service.refresh_from_db()
    assert service.ends_on is None

    timeline.run_until(date(2026, 2, 2))
    service.refresh_from_db()
    assert service.status == Service.Status.ACTIVE
    renewal = Invoice.objects.get(kind=Invoice.Kind.RENEWAL)
    assert renewal.due_date == DUE
    # a new request is possible after a withdrawal (one open at a time)
    timeline.act(lambda: _cancel(customer, service, END))
    assert service.cancellation_requests.count() == 2


def test_immediate_with_refund_credits_the_unused_days_once(
    customer, mailoutbox, django_capture_on_commit_callbacks
):
    timeline = Timeline(django_capture_on_commit_callbacks)
    service = _ordered(customer, timeline, _product(refund=True))
    timeline.run_until(date(2026, 1, 10))  # its clock stops on the next day, Jan 11
    mailoutbox.clear()

    # Jan 11: 21 of the period's 31 days unused: 10.00 * 21 / 31 = 6.774... -> 6.77
    quote = timeline.act(lambda: billing.cancellation_quote(service=service, kind=NOW))
    assert (quote.refund, quote.days_left, quote.days_in_period) == (usd("6.77"), 21, 31)
    request = timeline.act(lambda: _cancel(customer, service, NOW))
    again = timeline.act(lambda: _cancel(customer, service, NOW))  # a double submit

    assert again.pk == request.pk
    assert (request.status, request.refund, request.effective_on) == (
        "completed",
        usd("6.77"),
        date(2026, 1, 11),
    )
    service.refresh_from_db()
    assert service.status == Service.Status.TERMINATED
    assert credit_balance(customer=customer, currency="USD") == usd("6.77")
    entry = CreditEntry.objects.get(account__customer=customer)
    assert (entry.kind, entry.idempotency_key) == (
        "refund_to_credit",
        f"cancellation:{request.pk}:refund",
    )
    assert _subjects(mailoutbox) == [f"Your service {service} is cancelled"]
    assert "6.77" in mailoutbox[0].body
    assert AuditEvent.objects.filter(action="service.cancellation_completed").count() == 1
    assert CancellationRequest.objects.count() == 1


def test_immediate_without_refund_when_the_product_does_not_allow_it(
    customer, django_capture_on_commit_callbacks
):
    timeline = Timeline(django_capture_on_commit_callbacks)
    service = _ordered(customer, timeline, _product(refund=False))
    timeline.run_until(date(2026, 1, 11))
    quote = timeline.act(lambda: billing.cancellation_quote(service=service, kind=NOW))
    assert quote.refund is None
    request = timeline.act(lambda: _cancel(customer, service, NOW))
    assert request.refund is None
    assert not CreditEntry.objects.exists()
    service.refresh_from_db()
    assert service.status == Service.Status.TERMINATED
    timeline.run_until(date(2026, 2, 10))  # and the run bills nothing more
    assert list(Invoice.objects.values_list("kind", flat=True)) == ["order"]


def test_immediate_cancels_the_unpaid_renewal(customer, django_capture_on_commit_callbacks):
    timeline = Timeline(django_capture_on_commit_callbacks)
    service = _ordered(customer, timeline, _product(refund=True))
    timeline.run_until(date(2026, 1, 26))
    renewal = Invoice.objects.get(kind=Invoice.Kind.RENEWAL, status=Invoice.Status.UNPAID)
    quote = timeline.act(lambda: billing.cancellation_quote(service=service, kind=NOW))
    assert quote.unpaid_renewals == (renewal.number,)

    request = timeline.act(lambda: _cancel(customer, service, NOW))
    renewal.refresh_from_db()
    assert renewal.status == Invoice.Status.CANCELLED
    # Jan 27: 5 of 31 days unused, of the period that was paid (the renewal never was)
    assert request.refund == usd("1.61")


def test_immediate_refund_is_what_was_paid_net_of_a_recurring_coupon(
    customer, django_capture_on_commit_callbacks
):
    CouponFactory(code="QUARTER", percent=Decimal("25"), applies=Coupon.Applies.RECURRING)
    timeline = Timeline(django_capture_on_commit_callbacks)
    service = _ordered(customer, timeline, _product(refund=True), coupon_code="quarter")
    assert Invoice.objects.get().total == usd("7.50")
    timeline.run_until(date(2026, 1, 26))
    renewal = Invoice.objects.get(kind=Invoice.Kind.RENEWAL)
    assert renewal.total == usd("7.50")  # the coupon recurs
    timeline.act(lambda: billing.invoice_mark_paid(invoice_id=renewal.pk))
    timeline.run_until(date(2026, 2, 10))
    service.refresh_from_db()

    # Feb 11: 18 of February's 28 days unused, of the 7.50 paid: 4.821... -> 4.82 (not the
    # list price's 6.43)
    quote = timeline.act(lambda: billing.cancellation_quote(service=service, kind=NOW))
    assert (quote.refund, quote.days_left, quote.days_in_period) == (usd("4.82"), 18, 28)
    request = timeline.act(lambda: _cancel(customer, service, NOW))
    assert request.refund == usd("4.82")
    assert credit_balance(customer=customer, currency="USD") == usd("4.82")


@pytest.mark.parametrize(
    ("prices_include_tax", "paid", "refund"),
    [
        (False, "11.90", "8.06"),  # 19% on top: 11.90 * 21 / 31 = 8.061...
        (True, "10.00", "6.77"),  # 10.00 with its tax in it: 10.00 * 21 / 31 = 6.774...
    ],
    ids=["tax-added", "tax-included"],
)
def test_immediate_refund_includes_the_tax_that_was_charged(
    settings, django_capture_on_commit_callbacks, prices_include_tax, paid, refund
):
    settings.SELLER_DETAILS = {**settings.SELLER_DETAILS, "country": "DE"}
    settings.TAX_PRICES_INCLUDE_TAX = prices_include_tax
    TaxRateFactory(country="DE", rate=Decimal("19"))
    buyer = CustomerFactory(country="DE")
    timeline = Timeline(django_capture_on_commit_callbacks)
    service = _ordered(buyer, timeline, _product(refund=True))
    order_invoice = Invoice.objects.get()
    assert (order_invoice.total, order_invoice.tax_total.amount > 0) == (usd(paid), True)
    timeline.run_until(date(2026, 1, 10))
    request = timeline.act(lambda: _cancel(buyer, service, NOW))
    assert request.refund == usd(refund)
    assert credit_balance(customer=buyer, currency="USD") == usd(refund)


def test_immediate_refunds_nothing_when_the_current_period_was_not_paid(
    customer, django_capture_on_commit_callbacks
):
    timeline = Timeline(django_capture_on_commit_callbacks)
    product = _product(refund=True)
    service = _ordered(customer, timeline, product)
    timeline.run_until(date(2026, 2, 2))  # February's renewal is unpaid, its period begun
    quote = timeline.act(lambda: billing.cancellation_quote(service=service, kind=NOW))
    assert quote.refund is None
    # a service staff set up without any invoice: nothing was paid, nothing is refunded
    free = _active(customer, product, due=date(2026, 2, 20))
    request = timeline.act(lambda: _cancel(customer, free, NOW))
    assert request.refund is None
    assert not CreditEntry.objects.exists()


def test_an_open_end_of_period_request_becomes_the_immediate_one(
    customer, django_capture_on_commit_callbacks
):
    timeline = Timeline(django_capture_on_commit_callbacks)
    service = _ordered(customer, timeline, _product())
    first = timeline.act(lambda: _cancel(customer, service, END))
    assert timeline.act(lambda: _cancel(customer, service, END)).pk == first.pk  # double submit
    assert AuditEvent.objects.filter(action="service.cancellation_requested").count() == 1

    now = timeline.act(lambda: _cancel(customer, service, NOW, reason="switching"))
    assert (now.pk, now.kind, now.status, now.reason) == (first.pk, NOW, "completed", "switching")


def test_a_suspended_service_can_be_cancelled_a_terminated_one_not(
    customer, other_customer, django_capture_on_commit_callbacks
):
    timeline = Timeline(django_capture_on_commit_callbacks)
    service = _ordered(customer, timeline, _product())
    Service.objects.filter(pk=service.pk).update(status=Service.Status.SUSPENDED)
    with pytest.raises(Service.DoesNotExist):  # another customer's: as if it did not exist
        timeline.act(lambda: _cancel(other_customer, service, NOW))
    timeline.act(lambda: _cancel(customer, service, NOW))
    service.refresh_from_db()
    assert service.status == Service.Status.TERMINATED

    other = _ordered(customer, timeline, _product())
    Service.objects.filter(pk=other.pk).update(status=Service.Status.TERMINATED)
    for kind in (END, NOW):
        with pytest.raises(CancellationRefused, match="terminated"):
            timeline.act(lambda kind=kind: _cancel(customer, other, kind))
    with pytest.raises(CancellationRefused, match="Choose a reason"):
        timeline.act(lambda: _cancel(customer, other, END, reason="bored"))
    with pytest.raises(CancellationRefused, match="when the service should end"):
        timeline.act(lambda: _cancel(customer, other, "tomorrow"))
    with pytest.raises(CancellationRefused, match="no cancellation"):
        billing.service_cancellation_withdraw(customer=customer, service_id=other.pk)
    assert other.cancellation_requests.count() == 0


def test_a_service_on_a_panel_is_terminated_through_its_operation(customer, mailoutbox):
    server = ServerFactory()
    service = service_on(
        server,
        customer=customer,
        status=Service.Status.ACTIVE,
        external_id="42",
        next_due_date=timezone.localdate() + timedelta(days=10),
        recurring_amount=Decimal("10"),
    )
    _cancel(customer, service, NOW)
    operation = ProvisioningOperation.objects.get(service=service)
    assert (operation.kind, operation.status) == ("terminate", "pending")
    server.refresh_from_db()
    assert server.current_accounts == 0  # its slot is free again (it was never taken here)


@pytest.mark.usefixtures("paypal_settings")
def test_ending_at_period_end_stops_automatic_paypal_payments(
    customer, django_capture_on_commit_callbacks
):
    service = _service_on_paypal(customer)
    with responses.RequestsMock() as mocked:
        token = mocked.post(f"{API}/v1/oauth2/token", json=TOKEN)
        cancel = mocked.post(f"{API}/v1/billing/subscriptions/I-SUB1/cancel", status=204)
        with django_capture_on_commit_callbacks(execute=True):
            _cancel(customer, service, END)
        drop_unfired(mocked, token)
    assert json.loads(cancel.calls[0].request.body) == {"reason": "Service ended"}
    assert GatewaySubscription.objects.get().status == "cancelled"


def _service_on_paypal(customer) -> Service:
    product = _product()
    service = _active(customer, product, due=timezone.localdate() + timedelta(days=10))
    plan = GatewayPlan.objects.create(
        gateway="paypal",
        product=product,
        cycle="monthly",
        currency="USD",
        amount=usd("10.00"),
        product_reference="PROD-1",
        reference="P-1",
    )
    GatewaySubscription.objects.create(
        service=service,
        customer=customer,
        gateway="paypal",
        reference="I-SUB1",
        plan=plan,
        status="active",
    )
    return service
