"""Staff erase a customer (issue 16): with their own permission, confirmed by typing the
customer's email; the services end on their panels first (erasure refuses until the panels
confirmed), saved cards are removed at the gateway (Stripe mocked at the edge), personal data
is anonymised and sessions end; invoices keep their frozen buyer snapshot, the ledger and
the audit log stay."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Customer, DataExport, StaffNote, UserSession
from accounts.tests.helpers import logged_in, staff_user
from billing.services import ErasureBlocked, customer_erase, payment_record
from billing_portal.common.models import AuditEvent
from billing_portal.common.testing import usd
from credits.models import CreditEntry
from credits.services import credit_entry_append
from payments.models import GatewayCustomer, SavedPaymentMethod
from provisioning.models import ProvisioningOperation, Service
from provisioning.tests.factories import ServerFactory, service_on

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stripe_settings")]

API = "https://api.stripe.com/v1"


def _card(customer) -> SavedPaymentMethod:
    GatewayCustomer.objects.create(customer=customer, gateway="stripe", reference="cus_1")
    return SavedPaymentMethod.objects.create(
        customer=customer, gateway="stripe", reference="pm_1", brand="visa", last4="4242"
    )


def _on_panel(customer, status="active") -> Service:
    service = service_on(ServerFactory(), customer=customer, status=status)
    service.external_id = f"sandbox-svc-{service.pk}"
    service.save(update_fields=["external_id"])
    return service


def _erase_page(customer) -> str:
    return reverse("admin:accounts_customer_erase", args=[customer.pk])


@pytest.fixture
def eraser() -> Client:
    return logged_in(staff_user("view_customer", "erase_customer"))


def test_staff_end_the_services_then_erase_the_customer(
    customer, eraser, invoice_factory, mocked, django_capture_on_commit_callbacks
):
    # given: a customer with a live panel account, a card, a paid invoice, credit, a session
    service = _on_panel(customer)
    card = _card(customer)
    invoice = invoice_factory(customer, "30.00")
    payment_record(invoice_id=invoice.pk, gateway="manual", reference="R-1", amount=invoice.total)
    credit_entry_append(customer=customer, amount=usd("5"), kind="admin_add", idempotency_key="k")
    TOTPDevice.objects.create(user=customer.user, name="App", confirmed=True)
    DataExport.objects.create(customer=customer, status="failed")
    StaffNote.objects.create(customer=customer, author=staff_user(), body="Call 0123 456 789")
    browser = logged_in(customer.user)  # their session, in the database
    email, snapshot = customer.user.email, dict(invoice.buyer_details)
    page = _erase_page(customer)

    # when: staff type a wrong email
    refused = eraser.post(page, {"step": "end_services", "email": "someone@else.test"})
    # then: nothing happens
    assert "not the customer&#x27;s email" in refused.content.decode()
    assert Service.objects.get(pk=service.pk).status == "active"

    # when: erasing while the service is live
    with pytest.raises(ErasureBlocked):
        customer_erase(customer_id=customer.pk, actor=staff_user())
    assert "End their services" in eraser.get(page).content.decode()

    # when: staff end the services (the panel terminates the account after commit)
    with django_capture_on_commit_callbacks(execute=True):
        ended = eraser.post(page, {"step": "end_services", "email": email.upper()})
    assert ended.status_code == 302
    assert Service.objects.get(pk=service.pk).status == "terminated"
    terminate = ProvisioningOperation.objects.get(service=service, kind="terminate")
    assert terminate.status == "succeeded"

    # when: staff erase (the card is detached at Stripe)
    mocked.post(f"{API}/payment_methods/pm_1/detach", json={"id": "pm_1", "object": "x"})
    with django_capture_on_commit_callbacks(execute=True):
        erased = eraser.post(page, {"step": "erase", "email": email})

    # then
    assert erased.status_code == 302
    customer = Customer.objects.select_related("user").get(pk=customer.pk)
    user = customer.user
    assert customer.erased_at is not None
    assert (user.email, user.is_active, user.has_usable_password()) == (
        f"erased-{user.pk}@erased.invalid",
        False,
        False,
    )
    assert customer.name == f"Erased customer {customer.pk}"
    assert (customer.address_line1, customer.city, customer.postal_code, str(customer.phone)) == (
        "",
        "",
        "",
        "",
    )
    assert not SavedPaymentMethod.objects.filter(pk=card.pk).exists()
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not DataExport.objects.filter(customer=customer).exists()
    assert not StaffNote.objects.filter(customer=customer).exists()
    assert not UserSession.objects.filter(user=user).exists()
    assert not [
        s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(user.pk)
    ]
    assert browser.get(reverse("accounts:profile")).status_code == 302  # signed out
    invoice.refresh_from_db()
    assert invoice.buyer_details == snapshot
    assert email in str(snapshot)
    assert CreditEntry.objects.filter(account__customer=customer).count() == 1
    event = AuditEvent.objects.get(action="account.erased")
    assert (event.customer_id, event.details["cards_removed"]) == (customer.pk, 1)
    assert event.details["sessions_ended"] >= 1
    assert event.details["staff_notes_deleted"] == 1
    assert AuditEvent.objects.filter(customer=customer, action="invoice.issued").exists()
    assert "was erased" in eraser.get(page).content.decode()


def test_erasure_waits_for_the_panel_to_confirm_the_termination(customer, eraser):
    service = _on_panel(customer, status="terminated")
    ProvisioningOperation.objects.create(
        service=service, kind="terminate", idempotency_key="t:1", status="failed"
    )
    response = eraser.post(_erase_page(customer), {"step": "erase", "email": customer.user.email})
    assert "not confirmed yet" in response.content.decode()
    assert Customer.objects.get(pk=customer.pk).erased_at is None


def test_a_card_the_gateway_cannot_remove_stops_the_erasure(customer, eraser, mocked):
    _card(customer)
    mocked.post(
        f"{API}/payment_methods/pm_1/detach",
        status=500,
        json={"error": {"type": "api_error", "message": "down"}},
    )
    response = eraser.post(_erase_page(customer), {"step": "erase", "email": customer.user.email})
    assert "could not be removed" in response.content.decode()
    customer.refresh_from_db()
    assert customer.erased_at is None
    assert SavedPaymentMethod.objects.filter().count() == 1


def test_unstarted_services_are_cancelled_with_their_order(
    customer, eraser, django_capture_on_commit_callbacks
):
    failed = service_on(ServerFactory(), customer=customer, status="failed")
    with django_capture_on_commit_callbacks(execute=True):
        eraser.post(_erase_page(customer), {"step": "end_services", "email": customer.user.email})
    assert Service.objects.get(pk=failed.pk).status == "cancelled"


def test_erasing_twice_changes_nothing(customer):
    staff = staff_user()
    customer_erase(customer_id=customer.pk, actor=staff)
    customer_erase(customer_id=customer.pk, actor=staff)
    assert AuditEvent.objects.filter(action="account.erased").count() == 1


def test_the_change_page_offers_erasure_only_with_the_permission(customer):
    change = reverse("admin:accounts_customer_change", args=[customer.pk])
    viewer = logged_in(staff_user("view_customer"))
    assert _erase_page(customer) not in viewer.get(change).content.decode()
    assert viewer.get(_erase_page(customer)).status_code == 403
    holder = logged_in(staff_user("view_customer", "erase_customer"))
    assert _erase_page(customer) in holder.get(change).content.decode()
