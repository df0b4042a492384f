"""A refunded token purchase takes its tokens back: not sent if still queued, removed from
VirtFusion if delivered (by the claimed, retried cycle a delivery uses), and a staff item
where they were used or cannot be taken back on their own. VirtFusion is mocked with
`responses` in its documented shapes; every registered call must be made."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import requests
import responses
from django.core import mail
from django.utils import timezone

from billing import services as billing_services
from billing.audit import TokenAudit
from billing.models import RefundShortfall, TokenPurchase
from billing.services import payment_record, payment_refund_record
from billing_portal.common.audit import AuditEvent
from billing_portal.common.testing import VIRTFUSION_API as VF
from billing_portal.common.testing import usd
from credits.models import CreditAccount
from payments.models import Payment

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("virtfusion")]


def _purchase(customer, status: str, *, amount="25.00", credit_id: int | None = 77):
    """A paid token purchase (2,500 tokens for $25) that has reached `status`."""
    invoice = billing_services.token_purchase_start(
        customer=customer, amount=usd(amount), actor=None
    )
    payment = payment_record(
        invoice_id=invoice.pk, gateway="stripe", reference=f"pi_{invoice.pk}", amount=invoice.total
    )
    TokenPurchase.objects.filter(invoice=invoice).update(
        status=status, virtfusion_credit_id=credit_id if status == "delivered" else None
    )
    return TokenPurchase.objects.get(invoice=invoice), payment


def _refund(payment: Payment, amount: str, capture) -> None:
    with capture(execute=False):  # the removal is queued on commit; the tests drive it
        payment_refund_record(payment_id=payment.pk, amount=usd(amount), reason="Refund")


def _balance_url(customer) -> str:
    return f"{VF}/selfService/hourlyStats/byUserExtRelationId/{customer.pk}"


def test_a_delivered_purchase_refunded_in_full_is_taken_back_out_of_virtfusion(
    customer, django_capture_on_commit_callbacks
):
    credit, payment = _purchase(customer, "delivered")
    _refund(payment, "25.00", django_capture_on_commit_callbacks)
    credit.refresh_from_db()
    assert credit.status == TokenPurchase.Status.REMOVAL_PENDING
    with responses.RequestsMock() as rsps:
        rsps.get(_balance_url(customer), json={"data": {"credit": {"value": 4000}}})
        rsps.delete(f"{VF}/selfService/credit/77", status=204)
        credit = billing_services.token_purchase_remove(token_purchase_id=credit.pk)
    assert credit.status == TokenPurchase.Status.REMOVED
    assert AuditEvent.objects.filter(action=TokenAudit.TOKENS_REMOVED).count() == 1
    assert RefundShortfall.objects.count() == 0
    # run again (a duplicate message): nothing is called
    with responses.RequestsMock():
        billing_services.token_purchase_remove(token_purchase_id=credit.pk)


def test_tokens_the_customer_used_stay_and_the_refund_becomes_a_staff_item(
    customer, django_capture_on_commit_callbacks
):
    credit, payment = _purchase(customer, "delivered")
    _refund(payment, "25.00", django_capture_on_commit_callbacks)
    with responses.RequestsMock() as rsps, django_capture_on_commit_callbacks(execute=True):
        rsps.get(_balance_url(customer), json={"data": {"credit": {"value": 1200}}})
        credit = billing_services.token_purchase_remove(token_purchase_id=credit.pk)
    assert credit.status == TokenPurchase.Status.DELIVERED
    shortfall = RefundShortfall.objects.get()
    assert (shortfall.kind, shortfall.tokens, shortfall.token_purchase) == (
        "tokens",
        Decimal("2500.00"),
        credit,
    )
    assert "the customer has 1200 tokens left" in shortfall.description
    assert any(m.to == ["ops@example.com"] for m in mail.outbox)


def test_virtfusion_down_during_the_removal_is_retried_until_it_answers(
    customer, django_capture_on_commit_callbacks
):
    credit, payment = _purchase(customer, "delivered")
    _refund(payment, "25.00", django_capture_on_commit_callbacks)
    now = timezone.now()
    with responses.RequestsMock() as rsps:
        rsps.get(_balance_url(customer), json={"data": {"credit": {"value": 2500}}})
        rsps.delete(f"{VF}/selfService/credit/77", status=503, body="<h1>Unavailable</h1>")
        with django_capture_on_commit_callbacks(execute=False):
            credit = billing_services.token_purchase_remove(token_purchase_id=credit.pk, now=now)
    assert (credit.status, credit.attempts) == ("removal_pending", 1)
    assert billing_services.token_removals_sweep(now=now) == []  # not due yet
    later = now + timedelta(hours=1)
    assert billing_services.token_removals_sweep(now=later) == [credit.pk]
    with responses.RequestsMock() as rsps:
        rsps.get(_balance_url(customer), json={"data": {"credit": {"value": 2500}}})
        rsps.delete(f"{VF}/selfService/credit/77", status=204)
        credit = billing_services.token_purchase_remove(token_purchase_id=credit.pk, now=later)
    assert credit.status == TokenPurchase.Status.REMOVED


def test_a_lost_answer_to_the_removal_is_asked_again_and_a_404_then_means_done(
    customer, django_capture_on_commit_callbacks
):
    credit, payment = _purchase(customer, "delivered")
    _refund(payment, "25.00", django_capture_on_commit_callbacks)
    now = timezone.now()
    with responses.RequestsMock() as rsps, django_capture_on_commit_callbacks(execute=False):
        rsps.get(_balance_url(customer), json={"data": {"credit": {"value": 2500}}})
        rsps.delete(f"{VF}/selfService/credit/77", body=requests.ReadTimeout("timed out"))
        credit = billing_services.token_purchase_remove(token_purchase_id=credit.pk, now=now)
    assert credit.status == TokenPurchase.Status.REMOVAL_PENDING
    later = now + timedelta(hours=1)
    with responses.RequestsMock() as rsps:
        rsps.get(_balance_url(customer), json={"data": {"credit": {"value": 2500}}})
        rsps.delete(f"{VF}/selfService/credit/77", status=404, json={"msg": "not found"})
        credit = billing_services.token_purchase_remove(token_purchase_id=credit.pk, now=later)
    assert credit.status == TokenPurchase.Status.REMOVED


def test_a_removal_a_dead_worker_left_behind_is_queued_again(customer):
    credit, _ = _purchase(customer, "delivered")
    TokenPurchase.objects.filter(pk=credit.pk).update(status="removing")
    later = timezone.now() + timedelta(minutes=11)
    assert billing_services.token_removals_sweep(now=later) == [credit.pk]


def test_tokens_not_sent_yet_are_not_sent_after_a_full_refund(
    customer, django_capture_on_commit_callbacks
):
    credit, payment = _purchase(customer, "pending")
    _refund(payment, "25.00", django_capture_on_commit_callbacks)
    credit.refresh_from_db()
    assert credit.status == TokenPurchase.Status.REFUNDED
    with responses.RequestsMock():  # no call to VirtFusion at all
        assert (
            billing_services.token_purchase_deliver(token_purchase_id=credit.pk).status
            == "refunded"
        )


def test_a_partial_refund_before_delivery_sends_fewer_tokens(
    customer, django_capture_on_commit_callbacks
):
    credit, payment = _purchase(customer, "pending")
    _refund(payment, "10.00", django_capture_on_commit_callbacks)
    credit.refresh_from_db()
    assert (credit.status, credit.tokens) == ("pending", Decimal("1500.00"))


def test_a_partial_refund_of_delivered_tokens_is_for_staff(
    customer, django_capture_on_commit_callbacks
):
    credit, payment = _purchase(customer, "delivered")
    with responses.RequestsMock():  # VirtFusion is not called
        _refund(payment, "10.00", django_capture_on_commit_callbacks)
    credit.refresh_from_db()
    assert credit.status == TokenPurchase.Status.DELIVERED
    shortfall = RefundShortfall.objects.get()
    assert shortfall.tokens == Decimal("1000.00")
    assert "takes back whole credits only" in shortfall.description


def test_tokens_converted_to_account_credit_give_that_credit_back(
    customer, admin_user, django_capture_on_commit_callbacks
):
    credit, payment = _purchase(customer, "failed")
    billing_services.token_purchase_convert_to_credit(
        token_purchase_id=credit.pk, staff=admin_user, note="VirtFusion gone"
    )
    assert CreditAccount.objects.get(customer=customer).balance == usd("25")
    _refund(payment, "25.00", django_capture_on_commit_callbacks)
    assert CreditAccount.objects.get(customer=customer).balance == usd("0")
    assert RefundShortfall.objects.count() == 0


def test_a_refund_while_the_delivery_is_uncertain_asks_staff_to_check(
    customer, django_capture_on_commit_callbacks
):
    credit, payment = _purchase(customer, "uncertain")
    _refund(payment, "25.00", django_capture_on_commit_callbacks)
    credit.refresh_from_db()
    assert credit.status == TokenPurchase.Status.REFUNDED  # never sent again
    shortfall = RefundShortfall.objects.get()
    assert f"reference_1={credit.pk}" in shortfall.description


def test_staff_refund_of_a_failed_purchase_ends_refunded_with_their_note(
    customer, admin_user, stripe_settings, django_capture_on_commit_callbacks
):
    credit, _ = _purchase(customer, "failed")
    with responses.RequestsMock() as rsps, django_capture_on_commit_callbacks(execute=False):
        rsps.post(
            "https://api.stripe.com/v1/refunds",
            json={
                "id": "re_1",
                "object": "refund",
                "charge": "ch_1",
                "amount": 2500,
                "status": "succeeded",
            },
        )
        rsps.get(
            "https://api.stripe.com/v1/charges/ch_1",
            json={"id": "ch_1", "object": "charge", "amount_refunded": 2500},
        )
        billing_services.token_purchase_refund(
            token_purchase_id=credit.pk, staff=admin_user, note="VirtFusion refused it"
        )
    credit.refresh_from_db()
    assert (credit.status, credit.resolution) == ("refunded", "VirtFusion refused it")
    assert RefundShortfall.objects.count() == 0
