"""The staff money API (billing/api/staff_billing.py): each endpoint's effect through the
admin's services (ledger entries, audit events, invoice states), the staff scope and the
role's permissions (a customer's key and a role without the permission get 403), mandatory
reasons, unknown ids, and idempotent replays. Stripe and VirtFusion are mocked with
`responses` in their documented request shapes."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from responses import matchers

from accounts import services as account_services
from accounts.models import Customer, User
from accounts.tests.factories import CustomerFactory, UserFactory
from accounts.tests.helpers import role_member
from billing.models import TokenPurchase
from billing.services import payment_record
from billing_portal.common.models import AuditEvent
from billing_portal.common.testing import VIRTFUSION_API as VF
from billing_portal.common.testing import usd
from credits.models import CreditEntry
from credits.services import credit_entry_append
from invoices.models import CreditNote, Invoice, UsageRecord
from payments.models import Payment, RefundRequest
from provisioning.models import ProvisioningOperation
from provisioning.tests.factories import ServerFactory, service_on

pytestmark = pytest.mark.django_db

STAFF_SCOPES = ["staff:read", "staff:billing", "staff:services"]
API = "/api/v1/staff"
STRIPE = "https://api.stripe.com/v1"


def staff_api(user: User, scopes: list[str] | None = None) -> Client:
    """A client sending a new key of `user` (staff scopes by default)."""
    new = account_services.api_key_create(user=user, name="Ops", scopes=scopes or STAFF_SCOPES)
    return Client(HTTP_AUTHORIZATION=f"Bearer {new.token}")


def post(client: Client, url: str, data: dict | None = None, key: str | None = None):
    """A JSON POST with an Idempotency-Key (a new one unless given)."""
    return client.post(
        url,
        data or {},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=key or uuid.uuid4().hex,
    )


@pytest.fixture
def billing_staff() -> Client:
    return staff_api(role_member("Billing"))


@pytest.fixture
def admin_api() -> Client:
    return staff_api(UserFactory(is_staff=True, is_superuser=True))


def unpaid(customer: Customer, invoice_factory, amount: str = "40.00") -> Invoice:
    return invoice_factory(customer, amount)


def paid_by(customer: Customer, invoice_factory, gateway: str, amount: str = "40.00") -> Payment:
    invoice = invoice_factory(customer, amount)
    return payment_record(
        invoice_id=invoice.pk, gateway=gateway, reference=f"pi_{invoice.pk}", amount=invoice.total
    )


# --- every endpoint refuses customers, and roles without the admin's permission -------------

EVERY_ENDPOINT = [
    ("get", "/customers/"),
    ("post", "/customers/"),
    ("get", "/customers/1/"),
    ("post", "/customers/1/credits/"),
    ("get", "/customers/1/ledger/"),
    ("get", "/invoices/"),
    ("post", "/invoices/"),
    ("get", "/invoices/1/"),
    ("post", "/invoices/1/issue/"),
    ("post", "/invoices/1/cancel/"),
    ("post", "/invoices/1/credit-notes/"),
    ("get", "/payments/"),
    ("post", "/payments/"),
    ("get", "/payments/1/"),
    ("post", "/payments/1/refund/"),
    ("get", "/tokens/"),
    ("post", "/tokens/"),
    ("post", "/tokens/1/cancel/"),
    ("get", "/operations/"),
    ("post", "/operations/1/retry/"),
    ("get", "/services/1/usage/"),
    ("post", "/services/1/usage/"),
]


@pytest.mark.parametrize(("method", "path"), EVERY_ENDPOINT)
def test_a_customer_key_is_refused_everywhere(customer, method, path):
    every = ["read", "services", "billing", "dns"]
    new = account_services.api_key_create(user=customer.user, name="Mine", scopes=every)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {new.token}")
    response = getattr(client, method)(
        API + path, {}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "scope_missing"


@pytest.mark.parametrize(("method", "path"), EVERY_ENDPOINT)
def test_a_staff_key_without_the_staff_scope_is_refused(method, path):
    client = staff_api(UserFactory(is_staff=True, is_superuser=True), ["read"])
    response = getattr(client, method)(
        API + path, {}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert response.status_code == 403


def test_writes_need_the_write_scope_reads_the_read_scope(customer):
    reader = staff_api(UserFactory(is_staff=True, is_superuser=True), ["staff:read"])
    assert reader.get(f"{API}/customers/").status_code == 200
    data = {"direction": "add", "amount": "5", "currency": "USD", "reason": "Goodwill"}
    assert post(reader, f"{API}/customers/{customer.pk}/credits/", data).status_code == 403
    assert not CreditEntry.objects.exists()


def test_support_cannot_add_credit_but_billing_can(customer):
    data = {"direction": "add", "amount": "5.00", "currency": "USD", "reason": "Goodwill"}
    url = f"{API}/customers/{customer.pk}/credits/"
    support = staff_api(role_member("Support"))
    refused = post(support, url, data)
    assert refused.status_code == 403
    assert "credits.change_credit" in refused.json()["detail"]
    assert not CreditEntry.objects.exists()
    assert support.get(f"{API}/customers/{customer.pk}/ledger/").status_code == 200  # may look
    assert post(staff_api(role_member("Billing")), url, data).status_code == 201


def test_billing_may_not_retry_operations_and_technical_may_not_refund(customer, invoice_factory):
    service = service_on(ServerFactory(), customer=customer, status="active")
    operation = _failed_operation(service)
    payment = paid_by(customer, invoice_factory, "manual")
    billing, technical = (staff_api(role_member(r)) for r in ("Billing", "Technical"))
    assert post(billing, f"{API}/operations/{operation.pk}/retry/").status_code == 403
    refund = {"to": "credit", "amount": "5", "reason": "Sorry"}
    assert post(technical, f"{API}/payments/{payment.pk}/refund/", refund).status_code == 403
    assert CreditNote.objects.count() == 0


# --- customers ------------------------------------------------------------------------------


def test_customers_list_filters_and_detail(billing_staff):
    ada = CustomerFactory(name="Ada Lovelace", company="Engines")
    CustomerFactory(name="Grace Hopper")
    listing = billing_staff.get(f"{API}/customers/", {"search": "engines"}).json()
    assert [row["id"] for row in listing["results"]] == [ada.pk]
    assert listing["results"][0]["email"] == ada.user.email
    detail = billing_staff.get(f"{API}/customers/{ada.pk}/").json()
    assert (detail["name"], detail["country"]) == ("Ada Lovelace", str(ada.country))
    assert billing_staff.get(f"{API}/customers/999999/").status_code == 404
    assert billing_staff.get(f"{API}/customers/99999999999999999999/").status_code == 404


def test_staff_create_a_customer_once_per_key(admin_api):
    data = {"email": "New@Example.com", "name": "New Co", "country": "DE", "tax_exempt": True}
    first = post(admin_api, f"{API}/customers/", data, key="new-customer")
    assert first.status_code == 201, first.json()
    again = post(admin_api, f"{API}/customers/", data, key="new-customer")
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    customer = Customer.objects.get(user__email="new@example.com")
    assert (customer.name, str(customer.country), customer.tax_exempt) == ("New Co", "DE", True)
    assert not customer.user.has_usable_password()
    event = AuditEvent.objects.get(action="account.created_by_staff")
    assert event.customer_id == customer.pk
    # the address has an account now: a new request is refused, nothing changes
    taken = post(admin_api, f"{API}/customers/", data)
    assert (taken.status_code, taken.json()["code"]) == (400, "email_already_registered")
    assert Customer.objects.count() == 1


def test_creating_customers_needs_the_add_permission_and_valid_fields(billing_staff, admin_api):
    data = {"email": "x@example.com", "name": "X", "country": "DE"}
    assert post(billing_staff, f"{API}/customers/", data).status_code == 403  # view only
    bad = post(admin_api, f"{API}/customers/", {**data, "country": "ZZ"})
    assert (bad.status_code, list(bad.json()["errors"])) == (400, ["country"])
    assert not Customer.objects.exists()


# --- credit and the ledger ------------------------------------------------------------------


def test_add_and_remove_credit_with_a_reason_in_the_ledger(customer, billing_staff):
    url = f"{API}/customers/{customer.pk}/credits/"
    add = {"direction": "add", "amount": "25.00", "currency": "USD", "reason": "Outage"}
    added = post(billing_staff, url, add)
    assert added.status_code == 201
    assert added.json()["balance_after"]["amount"] == "25.00"
    remove = {"direction": "remove", "amount": "5.00", "currency": "USD", "reason": "Mistake"}
    assert post(billing_staff, url, remove).json()["amount"]["amount"] == "-5.00"
    entries = CreditEntry.objects.order_by("sequence")
    assert [(e.kind, e.amount, e.reason) for e in entries] == [
        ("admin_add", usd("25.00"), "Outage"),
        ("admin_remove", usd("-5.00"), "Mistake"),
    ]
    actions = AuditEvent.objects.filter(customer=customer).values_list("action", flat=True)
    assert {"credit.added", "credit.removed"} <= set(actions)
    ledger = billing_staff.get(f"{API}/customers/{customer.pk}/ledger/").json()
    assert [row["kind"] for row in ledger["results"]] == ["admin_remove", "admin_add"]
    assert ledger["results"][0]["staff_user"] is not None
    only = billing_staff.get(f"{API}/customers/{customer.pk}/ledger/", {"kind": "admin_add"})
    assert [row["reason"] for row in only.json()["results"]] == ["Outage"]


@pytest.mark.parametrize("reason", ["", "   "])
def test_the_reason_is_mandatory(customer, billing_staff, reason):
    data = {"direction": "add", "amount": "5", "currency": "USD", "reason": reason}
    response = post(billing_staff, f"{API}/customers/{customer.pk}/credits/", data)
    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"
    assert not CreditEntry.objects.exists()


def test_removing_more_than_the_balance_changes_nothing(customer, billing_staff):
    data = {"direction": "remove", "amount": "5", "currency": "USD", "reason": "Mistake"}
    response = post(billing_staff, f"{API}/customers/{customer.pk}/credits/", data)
    assert (response.status_code, response.json()["code"]) == (400, "insufficient_credit")
    assert not CreditEntry.objects.exists()


def test_a_credit_replay_is_one_entry_and_another_body_is_422(customer, billing_staff):
    url = f"{API}/customers/{customer.pk}/credits/"
    data = {"direction": "add", "amount": "10", "currency": "USD", "reason": "Goodwill"}
    first = post(billing_staff, url, data, key="credit-1")
    second = post(billing_staff, url, data, key="credit-1")
    assert second.content == first.content
    assert CreditEntry.objects.count() == 1
    other = post(billing_staff, url, {**data, "amount": "11"}, key="credit-1")
    assert other.status_code == 422
    assert CreditEntry.objects.count() == 1


def test_credit_for_an_unknown_customer_is_404(billing_staff):
    data = {"direction": "add", "amount": "5", "currency": "USD", "reason": "Goodwill"}
    assert post(billing_staff, f"{API}/customers/999999/credits/", data).status_code == 404
    assert billing_staff.get(f"{API}/customers/999999/ledger/").status_code == 404


# --- invoices -------------------------------------------------------------------------------


def test_invoices_list_by_status_and_date_and_detail(customer, invoice_factory, billing_staff):
    invoice = unpaid(customer, invoice_factory)
    cancelled = unpaid(customer, invoice_factory)
    Invoice.objects.filter(pk=cancelled.pk).update(status="cancelled")
    today = timezone.localdate().isoformat()
    listing = billing_staff.get(f"{API}/invoices/", {"status": "unpaid", "issued_after": today})
    assert [row["id"] for row in listing.json()["results"]] == [invoice.pk]
    assert (
        billing_staff.get(f"{API}/invoices/", {"issued_before": "2000-01-01"}).json()["count"] == 0
    )
    assert billing_staff.get(f"{API}/invoices/", {"status": "nonsense"}).status_code == 400
    detail = billing_staff.get(f"{API}/invoices/{invoice.pk}/").json()
    assert (detail["customer"], detail["lines"][0]["description"]) == (customer.pk, "Work")
    assert billing_staff.get(f"{API}/invoices/999999/").status_code == 404


def test_a_manual_invoice_issued_at_once(customer, billing_staff):
    data = {
        "customer": customer.pk,
        "currency": "USD",
        "lines": [{"description": "Migration", "quantity": "2", "unit_price": "30.00"}],
        "notes": "By arrangement",
    }
    response = post(billing_staff, f"{API}/invoices/", data, key="manual-1")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["total"]["amount"]) == ("unpaid", "60.00")
    assert body["number"]
    post(billing_staff, f"{API}/invoices/", data, key="manual-1")  # a replay
    assert Invoice.objects.count() == 1
    assert AuditEvent.objects.filter(action="invoice.issued", customer=customer).exists()


def test_a_manual_draft_then_issued_and_cancelled(customer, billing_staff):
    data = {
        "customer": customer.pk,
        "currency": "USD",
        "issue": False,
        "lines": [{"description": "Setup", "unit_price": "15.00"}],
    }
    draft = post(billing_staff, f"{API}/invoices/", data).json()
    assert (draft["status"], draft["number"]) == ("draft", None)
    issued = post(billing_staff, f"{API}/invoices/{draft['id']}/issue/")
    assert issued.status_code == 200
    assert issued.json()["status"] == "unpaid"
    again = post(billing_staff, f"{API}/invoices/{draft['id']}/issue/")
    assert again.status_code == 400  # issued invoices are not issued twice
    cancel = post(billing_staff, f"{API}/invoices/{draft['id']}/cancel/", {"reason": "Dup"})
    assert cancel.json()["status"] == "cancelled"
    event = AuditEvent.objects.get(action="invoice.cancelled")
    assert event.details["reason"] == "Dup"


def test_manual_invoice_refusals(customer):
    only_add = staff_api(_staff_with("view_invoice", "add_invoice"))
    data = {
        "customer": customer.pk,
        "currency": "USD",
        "lines": [{"description": "X", "unit_price": "1"}],
    }
    issuing = post(only_add, f"{API}/invoices/", data)
    assert issuing.status_code == 403  # may make drafts, not issue them
    assert post(only_add, f"{API}/invoices/", {**data, "issue": False}).status_code == 201
    unknown = post(only_add, f"{API}/invoices/", {**data, "issue": False, "customer": 999999})
    assert (unknown.status_code, list(unknown.json()["errors"])) == (400, ["customer"])
    empty = post(only_add, f"{API}/invoices/", {**data, "issue": False, "lines": []})
    assert empty.status_code == 400
    assert Invoice.objects.count() == 1


def test_a_credit_note_on_a_paid_invoice(customer, invoice_factory, billing_staff):
    payment = paid_by(customer, invoice_factory, "manual")
    url = f"{API}/invoices/{payment.invoice_id}/credit-notes/"
    assert post(billing_staff, url, {"amount": "10.00", "reason": ""}).status_code == 400
    too_much = post(billing_staff, url, {"amount": "41.00", "reason": "Discount"})
    assert too_much.status_code == 400
    note = post(billing_staff, url, {"amount": "10.00", "reason": "Discount"}, key="note-1")
    assert note.status_code == 201
    post(billing_staff, url, {"amount": "10.00", "reason": "Discount"}, key="note-1")
    assert CreditNote.objects.get().amount == usd("10.00")
    assert Invoice.objects.get(pk=payment.invoice_id).status == "partially_refunded"
    assert post(billing_staff, f"{API}/invoices/999999/credit-notes/", {}).status_code == 404


# --- payments and refunds -------------------------------------------------------------------


def test_record_a_manual_payment_settles_the_invoice(customer, invoice_factory, billing_staff):
    invoice = unpaid(customer, invoice_factory)
    data = {
        "invoice": invoice.pk,
        "amount": "40.00",
        "method": "bank_transfer",
        "reference": "BANK-1",
        "received_on": "2026-01-02",
    }
    response = post(billing_staff, f"{API}/payments/", data, key="pay-1")
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "applied"
    post(billing_staff, f"{API}/payments/", data, key="pay-1")
    assert Payment.objects.count() == 1
    assert Invoice.objects.get(pk=invoice.pk).status == "paid"
    assert AuditEvent.objects.filter(action="payment.received", customer=customer).exists()
    # paid now: no second payment, even under another key
    refused = post(billing_staff, f"{API}/payments/", {**data, "reference": "BANK-2"})
    assert (refused.status_code, list(refused.json()["errors"])) == (400, ["invoice"])


def test_payments_list_filters_and_detail(customer, invoice_factory, billing_staff):
    manual = paid_by(customer, invoice_factory, "manual")
    paid_by(CustomerFactory(), invoice_factory, "stripe")
    listing = billing_staff.get(f"{API}/payments/", {"customer": customer.pk}).json()
    assert [row["id"] for row in listing["results"]] == [manual.pk]
    by_gateway = billing_staff.get(f"{API}/payments/", {"gateway": "stripe"}).json()
    assert by_gateway["count"] == 1
    detail = billing_staff.get(f"{API}/payments/{manual.pk}/").json()
    assert detail["amount"]["amount"] == "40.00"
    assert billing_staff.get(f"{API}/payments/999999/").status_code == 404
    huge = billing_staff.get(f"{API}/payments/", {"customer": "99999999999999999999"})
    assert huge.status_code == 400


def test_refund_to_account_credit_once(customer, invoice_factory, billing_staff):
    payment = paid_by(customer, invoice_factory, "manual")
    url = f"{API}/payments/{payment.pk}/refund/"
    data = {"to": "credit", "amount": "15.00", "reason": "Goodwill"}
    first = post(billing_staff, url, data, key="refund-1")
    assert first.status_code == 201, first.json()
    body = first.json()
    assert body["payment"]["amount_refunded"]["amount"] == "15.00"
    assert body["credit_entry"]["kind"] == "refund_to_credit"
    assert post(billing_staff, url, data, key="refund-1").content == first.content
    assert CreditEntry.objects.get().amount == usd("15.00")
    assert CreditNote.objects.get().amount == usd("15.00")
    assert AuditEvent.objects.filter(action="payment.refunded").count() == 1


def test_refund_needs_a_reason_and_a_known_payment(customer, invoice_factory, billing_staff):
    payment = paid_by(customer, invoice_factory, "manual")
    no_reason = {"to": "credit", "amount": "5", "reason": ""}
    assert post(billing_staff, f"{API}/payments/{payment.pk}/refund/", no_reason).status_code == 400
    data = {**no_reason, "reason": "Sorry"}
    assert post(billing_staff, f"{API}/payments/999999/refund/", data).status_code == 404
    over = {**data, "amount": "41"}
    assert post(billing_staff, f"{API}/payments/{payment.pk}/refund/", over).status_code == 400
    assert not CreditNote.objects.exists()


def test_refund_through_stripe(customer, invoice_factory, billing_staff, mocked, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_dummy"
    payment = paid_by(customer, invoice_factory, "stripe")
    refund = {"id": "re_1", "object": "refund", "charge": "ch_1", "amount": 1250}
    mocked.post(
        f"{STRIPE}/refunds",
        json={**refund, "status": "succeeded"},
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "payment_intent": payment.reference,
                    "amount": "1250",
                    "reason": "requested_by_customer",
                }
            ),
            matchers.header_matcher({"Authorization": "Bearer sk_test_dummy"}),
        ],
    )
    charge = {"id": "ch_1", "object": "charge", "amount": 4000, "amount_refunded": 1250}
    mocked.get(f"{STRIPE}/charges/ch_1", json=charge)
    url = f"{API}/payments/{payment.pk}/refund/"
    data = {"to": "gateway", "amount": "12.50", "reason": "Unhappy"}
    first = post(billing_staff, url, data, key="stripe-refund")
    assert first.status_code == 201, first.json()
    assert first.json()["payment"]["status"] == "partially_refunded"
    assert first.json()["credit_entry"] is None
    # a replay answers from the record: no second call to Stripe (the mock allows one)
    assert post(billing_staff, url, data, key="stripe-refund").content == first.content
    assert len(mocked.calls) == 2
    request = RefundRequest.objects.get()
    assert mocked.calls[0].request.headers["Idempotency-Key"] == request.idempotency_key
    assert CreditNote.objects.get().amount == usd("12.50")


def test_a_manual_payment_cannot_be_refunded_through_a_gateway(
    customer, invoice_factory, billing_staff
):
    payment = paid_by(customer, invoice_factory, "manual")
    data = {"to": "gateway", "amount": "5", "reason": "Sorry"}
    response = post(billing_staff, f"{API}/payments/{payment.pk}/refund/", data)
    assert (response.status_code, response.json()["code"]) == (400, "refund_not_possible")


# --- tokens ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("virtfusion")
def test_grant_and_cancel_tokens(
    customer, billing_staff, mocked, django_capture_on_commit_callbacks
):
    mocked.get(
        f"{VF}/users/{customer.pk}/byExtRelation",
        json={"data": {"id": 5, "extRelationId": customer.pk, "email": "x@y.z"}},
    )
    mocked.post(
        f"{VF}/selfService/credit/byUserExtRelationId/{customer.pk}",
        status=201,
        json={"data": {"id": 600}},
        match=[matchers.json_params_matcher({"tokens": 500}, strict_match=False)],
    )
    data = {"customer": customer.pk, "tokens": "500", "reason": "Outage"}
    assert post(billing_staff, f"{API}/tokens/", {**data, "reason": ""}).status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        granted = post(billing_staff, f"{API}/tokens/", data, key="grant-1")
    assert granted.status_code == 201, granted.json()
    post(billing_staff, f"{API}/tokens/", data, key="grant-1")  # a replay
    grant = TokenPurchase.objects.get()
    assert (grant.status, grant.source, grant.reason) == ("delivered", "staff", "Outage")
    assert AuditEvent.objects.filter(action="tokens.added", customer=customer).count() == 1
    listing = billing_staff.get(f"{API}/tokens/", {"status": "delivered"}).json()
    assert [row["id"] for row in listing["results"]] == [grant.pk]

    mocked.delete(f"{VF}/selfService/credit/600", status=204)
    url = f"{API}/tokens/{grant.pk}/cancel/"
    assert post(billing_staff, url, {"reason": ""}).status_code == 400
    cancelled = post(billing_staff, url, {"reason": "Wrong customer"})
    assert cancelled.json()["status"] == "cancelled"
    event = AuditEvent.objects.get(action="tokens.cancelled")
    assert event.details["reason"] == "Wrong customer"
    assert post(billing_staff, f"{API}/tokens/999999/cancel/", {"reason": "x"}).status_code == 404


def test_support_cannot_grant_tokens(customer):
    data = {"customer": customer.pk, "tokens": "500", "reason": "Outage"}
    assert post(staff_api(role_member("Support")), f"{API}/tokens/", data).status_code == 403
    assert not TokenPurchase.objects.exists()


# --- operations -----------------------------------------------------------------------------


def _failed_operation(service) -> ProvisioningOperation:
    return ProvisioningOperation.objects.create(
        service=service,
        kind="suspend",
        idempotency_key=f"suspend:{service.pk}:{uuid.uuid4().hex}",
        status="failed",
        attempts=5,
        last_error="Panel down",
    )


def test_the_failed_queue_and_a_retry(customer, django_capture_on_commit_callbacks):
    service = service_on(ServerFactory(), customer=customer, status="active")
    failed = _failed_operation(service)
    ProvisioningOperation.objects.create(
        service=service, kind="unsuspend", idempotency_key="done", status="succeeded"
    )
    technical = staff_api(role_member("Technical"))
    listing = technical.get(f"{API}/operations/").json()
    assert [row["id"] for row in listing["results"]] == [failed.pk]
    with django_capture_on_commit_callbacks(execute=False):
        retried = post(technical, f"{API}/operations/{failed.pk}/retry/")
    assert retried.status_code == 200
    assert retried.json()["status"] == "pending"
    again = post(technical, f"{API}/operations/{failed.pk}/retry/")
    assert again.status_code == 400  # only failed ones
    assert post(technical, f"{API}/operations/999999/retry/").status_code == 404


# --- usage records --------------------------------------------------------------------------


def test_usage_is_recorded_once_per_key_and_listed(customer, billing_staff):
    service = service_on(ServerFactory(), customer=customer, status="active")
    url = f"{API}/services/{service.pk}/usage/"
    data = {"metric": "call_minutes", "quantity": "12.5"}
    first = post(billing_staff, url, data, key="usage-1")
    assert first.status_code == 201, first.json()
    assert post(billing_staff, url, data, key="usage-1").content == first.content
    record = UsageRecord.objects.get()
    assert (record.metric, record.quantity, record.service_id) == (
        "call_minutes",
        Decimal("12.5"),
        service.pk,
    )
    assert record.idempotency_key.startswith("api:")
    assert AuditEvent.objects.filter(action="usage.recorded", customer=customer).count() == 1
    assert post(billing_staff, url, {**data, "quantity": "13"}, key="usage-1").status_code == 422
    post(billing_staff, url, {"metric": "seats", "quantity": "3"})
    listing = billing_staff.get(url, {"metric": "seats"}).json()
    assert [row["quantity"] for row in listing["results"]] == ["3.0000"]
    assert billing_staff.get(url).json()["count"] == 2


@pytest.mark.parametrize(
    "data",
    [
        {"metric": "call_minutes", "quantity": "-1"},
        {"metric": "Call Minutes", "quantity": "1"},
        {"metric": "seats", "quantity": "NaN"},
        {"metric": "seats", "quantity": "1", "recorded_at": "2999-01-01T00:00:00Z"},
        {"quantity": "1"},
    ],
)
def test_bad_usage_is_400_and_records_nothing(customer, billing_staff, data):
    service = service_on(ServerFactory(), customer=customer, status="active")
    response = post(billing_staff, f"{API}/services/{service.pk}/usage/", data)
    assert response.status_code == 400
    assert not UsageRecord.objects.exists()


def test_usage_of_an_unknown_service_is_404(billing_staff):
    data = {"metric": "seats", "quantity": "1"}
    assert post(billing_staff, f"{API}/services/999999/usage/", data).status_code == 404
    assert billing_staff.get(f"{API}/services/999999/usage/").status_code == 404


def test_usage_reports_with_one_service_key_are_one_record(customer):
    from invoices.errors import UsageKeyReused
    from invoices.services.usage import usage_record_add

    service = service_on(ServerFactory(), customer=customer, status="active")
    at = timezone.now()
    kwargs = {"service_id": service.pk, "metric": "seats", "idempotency_key": "meter-7"}
    first = usage_record_add(**kwargs, quantity=Decimal("4"), recorded_at=at)
    again = usage_record_add(**kwargs, quantity=Decimal("4"), recorded_at=at)
    assert (first.created, again.created, again.record.pk) == (True, False, first.record.pk)
    with pytest.raises(UsageKeyReused):
        usage_record_add(**kwargs, quantity=Decimal("5"), recorded_at=at)
    assert UsageRecord.objects.count() == 1


def _staff_with(*codenames: str) -> User:
    from accounts.tests.helpers import staff_user

    return staff_user(*codenames)


def test_money_fields_stay_decimal(customer, billing_staff):
    credit_entry_append(
        customer=customer, amount=usd("0.10"), kind="admin_add", idempotency_key="a"
    )
    credit_entry_append(
        customer=customer, amount=usd("0.20"), kind="admin_add", idempotency_key="b"
    )
    ledger = billing_staff.get(f"{API}/customers/{customer.pk}/ledger/").json()
    assert ledger["results"][0]["balance_after"]["amount"] == "0.30"
