"""Dunning (issue 20): a failed off-session renewal charge is tried again on the schedule
(DUNNING_RETRY_DAYS after the due date), never once the service is suspended, each try its
own idempotent Stripe call and one email per failure; saved cards about to expire get one
notice; invoice reminders follow the configured sequence (INVOICE_REMINDER_DAYS).

Stripe is mocked at the edge with `responses` (strict: every registered call must be made,
none other may), matching the documented PaymentIntent create-and-confirm request."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from responses import matchers

from billing.services import billing_run
from billing.tasks import renewals_charge_off_session_task
from billing_portal.common.audit import AuditEvent
from billing_portal.common.testing import usd
from catalogue.tests.factories import ProductFactory, ProductPriceFactory
from invoices.models import Invoice, InvoiceNotice
from invoices.services.dunning import (
    invoice_reminders_due,
    invoice_reminders_send,
    reminder_kind,
)
from payments.audit import PaymentAudit
from payments.models import GatewayCustomer, Payment, PaymentAttempt, SavedPaymentMethod
from payments.services import card_expiry_notices_send
from payments.services.dunning import charge_try_due
from provisioning.models import Service

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stripe_settings")]

API = "https://api.stripe.com/v1"
DUE = date(2026, 3, 10)


def _at(day: date, hour: int, minute: int = 0):
    return time_machine.travel(datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC))


def _card(customer, *, exp_month: int = 4, exp_year: int = 2030) -> SavedPaymentMethod:
    GatewayCustomer.objects.get_or_create(
        customer=customer, gateway="stripe", defaults={"reference": "cus_1"}
    )
    return SavedPaymentMethod.objects.create(
        customer=customer,
        gateway="stripe",
        reference="pm_1",
        brand="visa",
        last4="4242",
        exp_month=exp_month,
        exp_year=exp_year,
        is_default=True,
    )


@pytest.fixture
def renewal(customer) -> tuple[Service, Invoice]:
    """An active monthly service with a default card, whose renewal (due DUE) the billing
    run issued a week ahead."""
    product = ProductFactory(name="Rust server")
    ProductPriceFactory(product=product, cycle="monthly", price=usd("10.00"))
    service = Service.objects.create(
        customer=customer,
        product=product,
        cycle="monthly",
        currency="USD",
        recurring_amount=usd("10.00"),
        status="active",
        next_due_date=DUE,
    )
    _card(customer)
    with _at(DUE - timedelta(days=7), 2):
        billing_run()
    invoice = Invoice.objects.get(kind=Invoice.Kind.RENEWAL, status=Invoice.Status.UNPAID)
    assert invoice.due_date == DUE
    return service, invoice


def _intent_call(mocked, invoice: Invoice, number: int, *, succeed: bool) -> None:
    """The documented off-session PaymentIntent (created and confirmed at once), with the
    idempotency key of this invoice and try: declined, or succeeded."""
    form = {
        "amount": str(int(invoice.amount_due.amount * 100)),
        "currency": "usd",
        "customer": "cus_1",
        "payment_method": "pm_1",
        "off_session": "true",
        "confirm": "true",
        "metadata[invoice_id]": str(invoice.pk),
    }
    match = [
        matchers.urlencoded_params_matcher(form),
        matchers.header_matcher({"Idempotency-Key": f"invoice-{invoice.pk}-off-session-{number}"}),
    ]
    if succeed:
        body = {"id": f"pi_{number}", "object": "payment_intent", "status": "succeeded"}
        mocked.post(f"{API}/payment_intents", json=body, match=match)
        return
    declined = {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": "insufficient_funds",
        "message": "Your card has insufficient funds.",
        "payment_intent": {
            "id": f"pi_{number}",
            "object": "payment_intent",
            "status": "requires_payment_method",
        },
    }
    mocked.post(f"{API}/payment_intents", status=402, json={"error": declined}, match=match)


def _live_day(day: date, capture) -> int:
    """One day of the automation as beat runs it: the card tries (01:45), then the billing
    run (02:00) that suspends what is overdue. Returns how many tries were queued."""
    with _at(day, 1, 45), capture(execute=True):
        queued = renewals_charge_off_session_task.delay().get()
    with _at(day, 2), capture(execute=True):
        run = billing_run()
    assert run.errors == [], run.errors
    return queued


def _failure_emails(mailoutbox, invoice: Invoice) -> list:
    return [m for m in mailoutbox if m.subject == f"Payment of invoice {invoice.number} failed"]


def test_fail_fail_succeed_on_the_schedule_keeps_the_service_active_with_one_payment(
    renewal, mocked, mailoutbox, django_capture_on_commit_callbacks
):
    """Acceptance 2: tries on the due date and 1 day after fail, the one 3 days after (the
    day the service would be suspended) succeeds before the run suspends anything."""
    service, invoice = renewal
    for number, succeed in ((1, False), (2, False), (3, True)):
        _intent_call(mocked, invoice, number, succeed=succeed)
    queued = {}
    for offset in range(7):
        queued[offset] = _live_day(DUE + timedelta(days=offset), django_capture_on_commit_callbacks)
        if offset in (0, 1):  # the failure of the day is told at once, with the pay link
            emails = _failure_emails(mailoutbox, invoice)
            assert len(emails) == offset + 1
            assert f"/invoices/{invoice.pk}/" in emails[-1].body
            assert "insufficient funds" in emails[-1].body
    assert queued == {0: 1, 1: 1, 2: 0, 3: 1, 4: 0, 5: 0, 6: 0}
    assert len(mocked.calls) == 3
    next_tries = [
        m.body.split("try the card again on ")[1][:10] for m in _failure_emails(mailoutbox, invoice)
    ]
    assert next_tries == ["2026-03-11", "2026-03-13"]
    invoice.refresh_from_db()
    service.refresh_from_db()
    assert (invoice.status, service.status) == (Invoice.Status.PAID, Service.Status.ACTIVE)
    assert list(Payment.objects.values_list("invoice", "reference")) == [(invoice.pk, "pi_3")]
    attempts = PaymentAttempt.objects.filter(invoice=invoice, kind="off_session")
    assert sorted(attempts.values_list("attempt_number", "status", "reference")) == [
        (1, "failed", "pi_1"),
        (2, "failed", "pi_2"),
        (3, "completed", "pi_3"),
    ]
    failed = AuditEvent.objects.filter(action=PaymentAudit.CARD_CHARGE_FAILED)
    assert sorted(e.details["try"] for e in failed) == [1, 2]
    assert {e.customer_id for e in failed} == {invoice.customer_id}


def test_no_try_is_made_once_the_service_is_suspended(
    renewal, mocked, mailoutbox, django_capture_on_commit_callbacks
):
    service, invoice = renewal
    for number in (1, 2, 3):
        _intent_call(mocked, invoice, number, succeed=False)
    for offset in range(9):
        _live_day(DUE + timedelta(days=offset), django_capture_on_commit_callbacks)
        if offset == 3:  # the day-3 try failed, then the run suspended the service
            service.refresh_from_db()
            assert service.status == Service.Status.SUSPENDED
    assert len(mocked.calls) == 3  # no try on day 5: the service is suspended
    assert not PaymentAttempt.objects.filter(invoice=invoice, attempt_number=4).exists()
    assert len(_failure_emails(mailoutbox, invoice)) == 3  # one per failure
    last = _failure_emails(mailoutbox, invoice)[-1]
    assert "try the card again on 2026-03-15" in last.body  # the schedule's day, not made
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.UNPAID
    assert Payment.objects.count() == 0


def test_a_try_runs_once_a_day_however_often_the_task_runs(
    renewal, mocked, mailoutbox, django_capture_on_commit_callbacks
):
    _service, invoice = renewal
    _intent_call(mocked, invoice, 1, succeed=False)
    for _ in range(3):
        with _at(DUE, 5), django_capture_on_commit_callbacks(execute=True):
            renewals_charge_off_session_task.delay().get()
    assert len(mocked.calls) == 1
    assert len(_failure_emails(mailoutbox, invoice)) == 1


def test_after_missed_days_only_the_latest_try_is_made(
    renewal, mocked, django_capture_on_commit_callbacks
):
    """The worker was away from the due date to day 4: one try (the day-3 one), not three."""
    _service, invoice = renewal
    _intent_call(mocked, invoice, 3, succeed=True)
    with _at(DUE + timedelta(days=4), 1, 45), django_capture_on_commit_callbacks(execute=True):
        assert renewals_charge_off_session_task.delay().get() == 1
    assert list(PaymentAttempt.objects.values_list("attempt_number", flat=True)) == [3]
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID


@pytest.mark.parametrize(
    ("offset", "number"),
    [(-1, None), (0, 1), (1, 2), (2, 2), (3, 3), (4, 3), (5, 4), (30, 4)],
)
def test_charge_try_by_day(offset, number):
    assert charge_try_due(due=DUE, today=DUE + timedelta(days=offset)) == number


def test_the_retry_days_are_a_setting(settings):
    settings.DUNNING_RETRY_DAYS = [2]
    assert [charge_try_due(due=DUE, today=DUE + timedelta(days=d)) for d in range(4)] == [
        1,
        1,
        2,
        2,
    ]


# --- Cards about to expire ----------------------------------------------------------------


def _expiry_notices(mailoutbox) -> list:
    return [m for m in mailoutbox if "expires at the end of" in m.subject]


def test_a_card_expiring_within_30_days_gets_one_notice(
    customer, other_customer, mailoutbox, django_capture_on_commit_callbacks
):
    card = _card(customer, exp_month=3, exp_year=2026)
    later = SavedPaymentMethod.objects.create(
        customer=other_customer, gateway="stripe", reference="pm_2", exp_month=5, exp_year=2026
    )
    mailoutbox.clear()
    for day in (date(2026, 2, 20), date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 20)):
        with _at(day, 2, 20), django_capture_on_commit_callbacks(execute=True):
            card_expiry_notices_send(today=day)
            card_expiry_notices_send(today=day)  # a second run sends nothing
    notices = _expiry_notices(mailoutbox)
    # 20 Feb: the card's last day (31 Mar) is 39 days off; 1 Mar: 30 days off, so noticed
    assert [(m.to, m.subject) for m in notices] == [
        ([customer.user.email], "Your card Visa •••• 4242 expires at the end of 03/2026")
    ]
    assert "/cards/" in notices[0].body
    card.refresh_from_db()
    later.refresh_from_db()
    assert (card.expiry_noticed, later.expiry_noticed) == ("2026-03", "")
    event = AuditEvent.objects.get(action=PaymentAudit.CARD_EXPIRY_NOTICE)
    assert (event.customer_id, event.object_id) == (customer.pk, str(card.pk))

    # The card's new expiry (the bank renewed it) is noticed again when it comes near.
    SavedPaymentMethod.objects.filter(pk=card.pk).update(exp_year=2027)
    with _at(date(2027, 3, 5), 2, 20), django_capture_on_commit_callbacks(execute=True):
        assert card_expiry_notices_send(today=date(2027, 3, 5)) == 1
    assert len(_expiry_notices(mailoutbox)) == 2


def test_the_expiry_notice_counts_to_the_end_of_the_expiry_month(customer):
    _card(customer, exp_month=4, exp_year=2026)
    assert card_expiry_notices_send(today=date(2026, 3, 30)) == 0  # 31 days to 30 April
    assert card_expiry_notices_send(today=date(2026, 3, 31)) == 1


# --- The reminder sequence ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "kind"),
    [
        (-4, None),
        (-3, "upcoming"),
        (0, "upcoming"),
        (1, "overdue_1"),
        (6, "overdue_1"),
        (7, "overdue_2"),
        (14, "overdue_3"),
        (60, "overdue_3"),
    ],
)
def test_reminder_kind_follows_the_configured_sequence(settings, offset, kind):
    settings.INVOICE_REMINDER_DAYS = [-3, 1, 7, 14]
    assert reminder_kind(due=DUE, today=DUE + timedelta(days=offset)) == kind


def test_a_longer_sequence_names_its_extra_reminders(settings):
    settings.INVOICE_REMINDER_DAYS = [-7, -2, 0, 2, 5, 10, 20]
    kinds = [reminder_kind(due=DUE, today=DUE + timedelta(days=d)) for d in (-7, -2, 0, 2, 20)]
    assert kinds == ["upcoming", "upcoming_2", "due", "overdue_1", "overdue_4"]


def test_each_reminder_of_the_sequence_goes_once(
    settings, invoice_factory, mailoutbox, django_capture_on_commit_callbacks
):
    settings.INVOICE_REMINDER_DAYS = [-3, 1, 7, 14]
    invoice = invoice_factory(amount="20.00")
    Invoice.objects.filter(pk=invoice.pk).update(due_date=DUE)
    mailoutbox.clear()
    day = DUE - timedelta(days=5)
    while day <= DUE + timedelta(days=20):
        for _ in range(2):  # a second run the same day sends nothing
            with django_capture_on_commit_callbacks(execute=True):
                invoice_reminders_send(items=invoice_reminders_due(today=day))
        day += timedelta(days=1)
    notices = InvoiceNotice.objects.filter(invoice=invoice).order_by("pk")
    assert list(notices.values_list("kind", flat=True)) == [
        "upcoming",
        "overdue_1",
        "overdue_2",
        "overdue_3",
    ]
    reminders = [m for m in mailoutbox if invoice.number in m.subject]
    assert len(reminders) == 4
    assert "Overdue" in reminders[-1].subject
