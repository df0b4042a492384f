"""The customer API (billing/api): services, invoices, balance and paying with credit, each
scoped to the caller and to the key's scopes; one error shape; pages, filters, throttling."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from accounts import services as account_services
from accounts.models import IdempotencyKey
from accounts.tests.factories import CustomerFactory, UserFactory
from billing.models import TokenPurchase
from billing_portal.common.models import AuditEvent
from billing_portal.common.testing import usd
from credits.models import CreditEntry
from credits.services import credit_entry_append
from invoices.models import Invoice
from payments.models import Payment
from provisioning.tests.factories import ServerFactory, service_on

pytestmark = pytest.mark.django_db

ERROR_KEYS = {"type", "code", "detail", "errors"}
BAD_PAGES = ("page=0", "page=NaN", "page=99999999999999999999", "page=-1")


def api(customer, *scopes: str) -> Client:
    """A client sending a new key of `customer` with `scopes` (read by default)."""
    new = account_services.api_key_create(
        user=customer.user, name="Test", scopes=list(scopes or ["read"])
    )
    return Client(HTTP_AUTHORIZATION=f"Bearer {new.token}")


def give_credit(customer, amount: str = "500", key: str = "gift") -> None:
    credit_entry_append(
        customer=customer, amount=usd(amount), kind="admin_add", idempotency_key=key
    )


def pay_url(invoice: Invoice) -> str:
    return f"/api/v1/invoices/{invoice.pk}/pay-with-credit/"


# --- reads ----------------------------------------------------------------------------------


def test_services_list_and_detail(customer):
    service = service_on(ServerFactory(), customer=customer, status="active")
    client = api(customer)
    listing = client.get("/api/v1/services/").json()
    assert listing["count"] == 1
    assert listing["results"][0]["id"] == service.pk
    assert listing["results"][0]["recurring_amount"]["currency"] == str(service.currency)
    detail = client.get(f"/api/v1/services/{service.pk}/").json()
    assert detail["status"] == "active"
    assert "secrets" not in detail


def test_invoices_list_and_detail(customer, invoice_factory):
    invoice = invoice_factory(customer, "49.99")
    client = api(customer)
    listing = client.get("/api/v1/invoices/").json()
    assert [row["id"] for row in listing["results"]] == [invoice.pk]
    detail = client.get(f"/api/v1/invoices/{invoice.pk}/").json()
    assert detail["total"] == {"amount": "49.99", "currency": "USD", "formatted": "$49.99"}
    assert detail["lines"][0]["description"] == "Work"


def test_balance_is_credit_per_currency_and_tokens_from_local_records(customer):
    give_credit(customer, "12.50")
    credit_entry_append(
        customer=customer,
        amount=usd("3").__class__("7", "EUR"),
        kind="admin_add",
        idempotency_key="e",
    )
    for status, tokens in (("delivered", "500"), ("delivered", "250"), ("removed", "900")):
        TokenPurchase.objects.create(
            customer=customer,
            source="staff",
            status=status,
            tokens=Decimal(tokens),
            rate=Decimal("100"),
            currency="USD",
            amount=usd("0"),
            reason="Goodwill",
        )
    body = api(customer).get("/api/v1/balance/").json()
    assert [(m["amount"], m["currency"]) for m in body["credit"]] == [
        ("7.00", "EUR"),
        ("12.50", "USD"),
    ]
    assert body["tokens"]["added"] == "750.00"
    assert body["tokens"]["value"]["amount"] == "7.50"


def test_a_drafted_invoice_is_not_shown(customer):
    from invoices import services as invoice_services

    line = invoice_services.LineDraft(kind="manual", description="Work", unit_price=usd("5"))
    draft = invoice_services.invoice_create_draft(customer=customer, currency="USD", lines=[line])
    client = api(customer)
    assert client.get("/api/v1/invoices/").json()["count"] == 0
    assert client.get(f"/api/v1/invoices/{draft.pk}/").status_code == 404


# --- isolation ------------------------------------------------------------------------------


def test_another_customers_objects_are_404(customer, other_customer, invoice_factory):
    invoice = invoice_factory(customer)
    service = service_on(ServerFactory(), customer=customer, status="active")
    give_credit(other_customer)
    intruder = api(other_customer, "read", "billing")
    owner = api(customer, "read", "billing")
    for url in (f"/api/v1/invoices/{invoice.pk}/", f"/api/v1/services/{service.pk}/"):
        response = intruder.get(url)
        assert response.status_code == 404, url
        assert set(response.json()) == ERROR_KEYS
        assert owner.get(url).status_code == 200, url
    response = intruder.post(pay_url(invoice), HTTP_IDEMPOTENCY_KEY="x1")
    assert response.status_code == 404
    assert intruder.get("/api/v1/invoices/").json()["count"] == 0
    assert intruder.get("/api/v1/services/").json()["count"] == 0
    assert not Payment.objects.exists()
    assert Invoice.objects.get(pk=invoice.pk).status == "unpaid"


def test_a_user_without_a_customer_profile_is_refused(client):
    user = UserFactory()
    new = account_services.api_key_create(user=user, name="x", scopes=["read"])
    response = client.get("/api/v1/services/", HTTP_AUTHORIZATION=f"Bearer {new.token}")
    assert response.status_code == 403
    assert response.json()["code"] == "no_customer_profile"


# --- scopes ---------------------------------------------------------------------------------


def test_reading_needs_the_read_scope(customer):
    response = api(customer, "billing").get("/api/v1/invoices/")
    assert response.status_code == 403
    assert response.json()["detail"] == "This request needs the 'read' scope."


def test_paying_needs_the_billing_scope(customer, issued_invoice):
    give_credit(customer)
    response = api(customer, "read").post(pay_url(issued_invoice), HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 403
    assert response.json()["code"] == "scope_missing"
    assert Invoice.objects.get(pk=issued_invoice.pk).status == "unpaid"
    assert not IdempotencyKey.objects.exists()


def test_a_session_has_the_customer_scopes(client, customer, issued_invoice):
    give_credit(customer)
    client.force_login(customer.user)
    assert client.get("/api/v1/invoices/").status_code == 200
    response = client.post(pay_url(issued_invoice), HTTP_IDEMPOTENCY_KEY="s1")
    assert response.status_code == 200


# --- paying with credit, idempotently --------------------------------------------------------


def test_pay_with_credit_pays_and_a_retry_replays(customer, issued_invoice):
    give_credit(customer)
    client = api(customer, "billing")
    first = client.post(pay_url(issued_invoice), HTTP_IDEMPOTENCY_KEY="pay-1")
    assert first.status_code == 200
    assert first.json()["credit_used"]["amount"] == "100.00"
    assert first.json()["invoice"]["status"] == "paid"
    again = client.post(pay_url(issued_invoice), HTTP_IDEMPOTENCY_KEY="pay-1")
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert CreditEntry.objects.filter(kind="invoice_payment").count() == 1
    assert Payment.objects.count() == 1
    assert AuditEvent.objects.filter(action="payment.recorded").count() <= 1


def test_the_same_key_with_another_request_is_422(customer, invoice_factory):
    give_credit(customer)
    first, second = invoice_factory(customer, "10"), invoice_factory(customer, "10")
    client = api(customer, "billing")
    assert client.post(pay_url(first), HTTP_IDEMPOTENCY_KEY="k").status_code == 200
    response = client.post(pay_url(second), HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Invoice.objects.get(pk=second.pk).status == "unpaid"
    # with a different body too
    response = client.post(
        pay_url(first), {"note": "x"}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert response.status_code == 422


def test_keys_are_per_user(customer, other_customer, invoice_factory):
    give_credit(customer)
    give_credit(other_customer, key="g2")
    mine, theirs = invoice_factory(customer, "10"), invoice_factory(other_customer, "10")
    assert (
        api(customer, "billing").post(pay_url(mine), HTTP_IDEMPOTENCY_KEY="same").status_code == 200
    )
    response = api(other_customer, "billing").post(pay_url(theirs), HTTP_IDEMPOTENCY_KEY="same")
    assert response.status_code == 200
    assert Invoice.objects.get(pk=theirs.pk).status == "paid"


@pytest.mark.parametrize("key", [None, "", "has space", "x" * 256, "caf\u00e9"])
def test_a_money_post_needs_a_valid_idempotency_key(customer, issued_invoice, key):
    give_credit(customer)
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    response = api(customer, "billing").post(pay_url(issued_invoice), **headers)
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "validation_error"
    assert list(body["errors"]) == ["Idempotency-Key"]
    assert Invoice.objects.get(pk=issued_invoice.pk).status == "unpaid"


def test_a_refusal_is_stored_and_replayed_too(customer, issued_invoice):
    client = api(customer, "billing")
    first = client.post(pay_url(issued_invoice), HTTP_IDEMPOTENCY_KEY="no-credit")
    assert first.status_code == 400
    assert first.json()["code"] == "insufficient_credit"
    give_credit(customer)
    again = client.post(pay_url(issued_invoice), HTTP_IDEMPOTENCY_KEY="no-credit")
    assert (again.status_code, again.json()) == (400, first.json())
    assert client.post(pay_url(issued_invoice), HTTP_IDEMPOTENCY_KEY="now").status_code == 200


def test_a_key_still_in_flight_is_409_and_a_dead_one_is_taken_over(
    customer, issued_invoice, settings
):
    give_credit(customer)
    client = api(customer, "billing")
    # a request that claimed the key and has not answered (or died)
    account_services.idempotency_claim(
        user=customer.user, key="busy", request_hash=_hash_of(issued_invoice)
    )
    response = client.post(pay_url(issued_invoice), HTTP_IDEMPOTENCY_KEY="busy")
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_in_use"
    assert Invoice.objects.get(pk=issued_invoice.pk).status == "unpaid"
    IdempotencyKey.objects.update(
        locked_at=timezone.now() - timedelta(seconds=settings.API_IDEMPOTENCY_LOCK_SECONDS + 1)
    )
    assert client.post(pay_url(issued_invoice), HTTP_IDEMPOTENCY_KEY="busy").status_code == 200


def _hash_of(invoice: Invoice) -> str:
    import hashlib

    return hashlib.sha256(f"POST {pay_url(invoice)}\n{{}}".encode()).hexdigest()


def test_a_server_error_releases_the_key(customer, issued_invoice, monkeypatch):
    from billing.api import views

    give_credit(customer)
    client = api(customer, "billing")
    client.raise_request_exception = False

    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(views.billing, "credit_pay_invoice", broken)
    assert client.post(pay_url(issued_invoice), HTTP_IDEMPOTENCY_KEY="r").status_code == 500
    monkeypatch.undo()
    assert client.post(pay_url(issued_invoice), HTTP_IDEMPOTENCY_KEY="r").status_code == 200


def test_old_keys_are_pruned(customer, settings):
    account_services.idempotency_claim(user=customer.user, key="old", request_hash="h")
    IdempotencyKey.objects.update(
        created_at=timezone.now() - timedelta(hours=settings.API_IDEMPOTENCY_KEEP_HOURS + 1)
    )
    account_services.idempotency_claim(user=customer.user, key="new", request_hash="h")
    assert account_services.idempotency_keys_prune() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


# --- errors, pages, filters, throttling ------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("services", "status=nope"),
        ("services", "created_after=1e308"),
        ("services", "due_before=2026-13-40"),
        ("invoices", "status=draftish"),
        ("invoices", "issued_after=99999999999999999999"),
        ("invoices", "due_before=2026-13-40"),
        *((path, page) for path in ("services", "invoices") for page in BAD_PAGES),
    ],
)
def test_bad_query_parameters_are_4xx_in_the_error_shape(customer, path, query):
    response = api(customer).get(f"/api/v1/{path}/?{query}")
    assert response.status_code in (400, 404)
    assert set(response.json()) == ERROR_KEYS


def test_a_validation_error_names_its_fields(customer):
    body = api(customer).get("/api/v1/invoices/?status=nope&due_after=x").json()
    assert body["type"] == "validation_error"
    assert body["code"] == "invalid"
    assert set(body["errors"]) == {"status", "due_after"}
    assert body["detail"].startswith("Check status, due_after:")


@pytest.mark.parametrize("pk", ["0", "99999999999999999999", "-1", "\u0661", "1e3"])
def test_odd_ids_are_404(customer, pk):
    client = api(customer, "read", "billing")
    for url in (f"/api/v1/invoices/{pk}/", f"/api/v1/services/{pk}/"):
        assert client.get(url).status_code == 404
    assert (
        client.post(f"/api/v1/invoices/{pk}/pay-with-credit/", HTTP_IDEMPOTENCY_KEY="z").status_code
        == 404
    )


def test_filters_by_status_and_date(customer, invoice_factory):
    paid, unpaid = invoice_factory(customer, "5"), invoice_factory(customer, "6")
    Invoice.objects.filter(pk=paid.pk).update(status="paid")
    Invoice.objects.filter(pk=unpaid.pk).update(issued_at=timezone.now() - timedelta(days=40))
    client = api(customer)
    ids = lambda q: [r["id"] for r in client.get(f"/api/v1/invoices/?{q}").json()["results"]]  # noqa: E731
    assert ids("status=paid") == [paid.pk]
    since = (timezone.now() - timedelta(days=10)).date().isoformat()
    assert ids(f"issued_after={since}") == [paid.pk]
    assert ids(f"issued_before={since}") == [unpaid.pk]


def test_pages_are_stable_and_complete(customer, invoice_factory):
    invoices = [invoice_factory(customer, "1") for _ in range(5)]
    # the same issue time for all: the id breaks the tie, so pages never overlap
    Invoice.objects.filter(customer=customer).update(issued_at=timezone.now())
    client = api(customer)
    seen, url = [], "/api/v1/invoices/?page_size=2"
    while url:
        page = client.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert seen == sorted((i.pk for i in invoices), reverse=True)


def test_page_size_is_capped(customer):
    response = api(customer).get("/api/v1/invoices/?page_size=100000")
    assert response.status_code == 200


def test_throttled_per_key_with_retry_after(customer, settings):
    settings.API_THROTTLE_RATE = "3/m"
    first, second = api(customer), api(customer)
    for _ in range(3):
        assert first.get("/api/v1/me/").status_code == 200
    response = first.get("/api/v1/me/")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json()["code"] == "throttled"
    # another key of the same customer has its own allowance
    assert second.get("/api/v1/me/").status_code == 200


@pytest.mark.parametrize("url", ["/api/v1/nothing-here/", "/api/v1/services/x/", "/api/v2/"])
def test_an_unknown_url_under_the_api_is_a_json_404(customer, url):
    response = api(customer).get(url)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_an_unknown_page_elsewhere_is_still_the_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "text/html" in response["Content-Type"]


def test_a_wrong_method_is_405_in_the_error_shape(customer):
    response = api(customer).delete("/api/v1/invoices/")
    assert response.status_code == 405
    assert set(response.json()) == ERROR_KEYS


def test_a_malformed_json_body_is_400(customer, issued_invoice):
    response = api(customer, "billing").post(
        pay_url(issued_invoice),
        "{not json",
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="j",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert not IdempotencyKey.objects.exists()


def test_the_schema_is_served_at_both_addresses(client):
    for url in ("/api/schema/", "/api/v1/schema/"):
        response = client.get(url)
        assert response.status_code == 200
        assert b"/api/v1/invoices/{id}/pay-with-credit/" in response.content


def test_staff_keys_cannot_be_made_for_customers_through_the_service():
    customer = CustomerFactory()
    from accounts.errors import ApiKeyRefused

    with pytest.raises(ApiKeyRefused):
        account_services.api_key_create(user=customer.user, name="x", scopes=["staff:billing"])
