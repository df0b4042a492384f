"""The customer API's service self-service (billing/api/services_api.py): actions and their
progress, automatic backups, plan changes and cancellation, through the client area's
services with its messages; another customer's service is a 404, a key without the
`services` scope a 403, bad input a 400 in the one error shape that changes nothing, and an
Idempotency-Key replays the first answer."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from billing.models import ServiceChange
from billing.tests.factories import paid_current_period
from billing.tests.test_api import ERROR_KEYS, api
from billing_portal.common.testing import usd
from catalogue.tests.factories import ProductFactory, ProductPriceFactory
from credits.services import credit_balance
from invoices.models import Invoice
from provisioning.models import CancellationRequest, ProvisioningOperation, Service
from provisioning.services import actions, operation_run
from provisioning.services.actions import Action
from provisioning.tests.factories import ServerFactory, panel_product, placed_product

pytestmark = pytest.mark.django_db
Op = ProvisioningOperation


def _echo(panel: Any, service: Service, params: dict[str, Any]) -> dict[str, Any]:
    return {"said": params.get("word", ""), "password": "s3cret-once"}


def _refuse_long(service: Service, params: dict[str, Any]) -> dict[str, Any]:
    if len(params.get("word", "")) > 5:
        raise actions.ActionRefused("At most 5 letters.")
    return {"word": params.get("word", "")}


TEST_ACTIONS = {
    "echo": Action("echo", "Echo", _echo, clean=_refuse_long, secret_keys=("password",)),
    "wipe": Action("wipe", "Wipe", _echo, repeatable=False, confirm="WIPE"),
}


@pytest.fixture(autouse=True)
def test_module(monkeypatch):
    cache.clear()
    monkeypatch.setattr(actions, "_module_actions", lambda: {"testmod": TEST_ACTIONS})


def _on_panel(customer) -> Service:
    server = ServerFactory(module="sandbox")
    product = panel_product(server, stands_in_for="testmod")
    return Service.objects.create(
        customer=customer,
        product=product,
        cycle="monthly",
        currency="USD",
        recurring_amount="10",
        server=server,
        status=Service.Status.ACTIVE,
        external_id="sandbox-svc-1",
    )


def _post(client, url: str, body: dict | None = None, key: str | None = "k-1"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(url, body or {}, content_type="application/json", **headers)


def _is_error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == ERROR_KEYS
    return body


# --- actions --------------------------------------------------------------------------------


def test_an_action_is_started_followed_and_its_secret_given_once(customer):
    service = _on_panel(customer)
    client = api(customer, "read", "services")
    listed = client.get(f"/api/v1/services/{service.pk}/actions/").json()
    assert [(a["name"], a["confirm"]) for a in listed] == [("echo", ""), ("wipe", "WIPE")]

    url = f"/api/v1/services/{service.pk}/actions/echo/"
    started = _post(client, url, {"params": {"word": "hi"}})
    assert started.status_code == 202
    body = started.json()
    assert (body["status"], body["final"], body["label"]) == ("pending", False, "Echo")
    replay = _post(client, url, {"params": {"word": "hi"}})
    assert replay.json() == body
    assert replay["Idempotent-Replayed"] == "true"
    assert Op.objects.filter(kind=Op.Kind.ACTION).count() == 1  # one key, one action

    operation_run(operation_id=body["id"])
    status_url = f"/api/v1/services/{service.pk}/operations/{body['id']}/"
    first = client.get(status_url).json()
    assert first["status"] == "succeeded"
    assert first["result"] == {"said": "hi"}
    assert first["secret"] == {"password": "s3cret-once"}
    assert client.get(status_url).json()["secret"] == {}  # taken as it was shown


def test_an_action_is_refused_with_the_pages_messages_and_nothing_recorded(customer):
    service = _on_panel(customer)
    client = api(customer, "services")
    base = f"/api/v1/services/{service.pk}/actions"
    refusals = [
        (_post(client, f"{base}/echo/", {"params": {"word": "toolong"}}, "a"), "At most 5"),
        (_post(client, f"{base}/wipe/", {"confirm": "no"}, "b"), "Type WIPE to confirm."),
        (_post(client, f"{base}/nope/", {}, "c"), "This service has no such action."),
    ]
    for response, message in refusals:
        assert message in _is_error(response, 400)["detail"]
    bad = _is_error(_post(client, f"{base}/echo/", {"params": ["x"]}, "d"), 400)
    assert "params" in bad["errors"]
    missing_key = _is_error(_post(client, f"{base}/echo/", {}, key=None), 400)
    assert "Idempotency-Key" in missing_key["errors"]
    service.status = Service.Status.SUSPENDED
    service.save()
    suspended = _is_error(_post(client, f"{base}/echo/", {}, "e"), 400)
    assert suspended["detail"].startswith("This service is suspended")
    assert not Op.objects.filter(kind=Op.Kind.ACTION).exists()


def test_the_actions_rate_limit_is_the_pages(customer, settings):
    settings.SERVICE_ACTION_RATE = "2/m"
    service = _on_panel(customer)
    client = api(customer, "services")
    url = f"/api/v1/services/{service.pk}/actions/echo/"
    assert [_post(client, url, {}, f"r{i}").status_code for i in range(3)] == [202, 202, 429]


def test_the_login_link_of_the_services_panel(customer):
    service = _on_panel(customer)
    client = api(customer)
    link = client.post(f"/api/v1/services/{service.pk}/login/")
    assert link.status_code == 200, link.content
    assert link.json()["url"].startswith("http://testserver/")
    service.status = Service.Status.SUSPENDED
    service.save()
    none = _is_error(client.post(f"/api/v1/services/{service.pk}/login/"), 409)
    assert none["detail"] == "This service has no control panel to log in to."


def test_a_site_domain_via_zone_is_refused_for_a_service_without_sites(customer):
    service = _on_panel(customer)
    url = f"/api/v1/services/{service.pk}/site-domains/via-zone/"
    client = api(customer, "services")
    _is_error(_post(client, url, {"domain": "shop.example"}), 400)
    assert "domain" in _is_error(_post(client, url, {}, "2"), 400)["errors"]
    assert not Op.objects.exists()


# --- automatic backups ----------------------------------------------------------------------


def test_auto_backups_refused_where_the_product_has_none(customer):
    service = _on_panel(customer)
    url = f"/api/v1/services/{service.pk}/auto-backups/"
    client = api(customer, "services")
    _is_error(client.post(url, {"enabled": False}, content_type="application/json"), 400)
    bad = _is_error(client.post(url, {"enabled": "maybe"}, content_type="application/json"), 400)
    assert "enabled" in bad["errors"]


# --- plan changes ---------------------------------------------------------------------------


@pytest.fixture
def plans():
    server = ServerFactory()
    small, medium, large = (
        placed_product(server.group, name=n, slug=s, module="sandbox", module_settings={"plan": s})
        for n, s in (("Small", "small"), ("Medium", "medium"), ("Large", "large"))
    )
    for product in (medium, large):
        product.group = small.group
        product.save()
    for product, price in ((small, "4.00"), (medium, "10.00"), (large, "25.00")):
        ProductPriceFactory(product=product, price=usd(price))
    return server, small, medium, large


def _medium_service(customer, plans) -> Service:
    server, _small, medium, _large = plans
    return Service.objects.create(
        customer=customer,
        product=medium,
        cycle="monthly",
        currency="USD",
        recurring_amount=usd("10.00"),
        server=server,
        status="active",
        external_id="sandbox-svc-x",
        next_due_date=timezone.localdate() + timedelta(days=20),
    )


def test_plan_change_options_then_an_upgrade_invoiced_once(customer, plans):
    _server, _small, _medium, large = plans
    service = _medium_service(customer, plans)
    client = api(customer, "services")
    url = f"/api/v1/services/{service.pk}/change-plan/"
    options = client.get(url).json()
    assert {q["name"]: q["is_upgrade"] for q in options["quotes"]} == {
        "Small": False,
        "Large": True,
    }
    first = _post(client, url, {"product": large.pk})
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["status"] == "awaiting_payment"
    assert body["detail"] == "Pay this invoice to upgrade; the new plan starts then."
    invoice = Invoice.objects.get(pk=body["invoice"])
    assert invoice.customer == customer
    assert _post(client, url, {"product": large.pk}).json() == body
    assert ServiceChange.objects.count() == 1


def test_a_downgrade_is_credited_and_applied(customer, plans):
    _server, small, _medium, _large = plans
    service = _medium_service(customer, plans)
    response = _post(
        api(customer, "services"),
        f"/api/v1/services/{service.pk}/change-plan/",
        {"product": small.pk},
    )
    assert response.status_code == 201, response.content
    assert response.json()["invoice"] is None
    assert "was added to your account credit" in response.json()["detail"]
    service.refresh_from_db()
    assert service.product == small
    assert credit_balance(customer=customer, currency="USD").amount > 0


def test_a_plan_change_refused_changes_nothing(customer, plans):
    service = _medium_service(customer, plans)
    other = ProductFactory(name="Elsewhere")
    client = api(customer, "services")
    url = f"/api/v1/services/{service.pk}/change-plan/"
    unknown = _is_error(_post(client, url, {"product": 999999}, "a"), 400)
    assert unknown["errors"]["product"] == ["Choose one of the plans shown."]
    _is_error(_post(client, url, {"product": other.pk}, "b"), 400)
    addon = _is_error(
        _post(client, url, {"product": service.product_id, "options": {"77": 1}}, "c"), 400
    )
    assert addon["errors"] == {
        "non_field_errors": ["An add-on you chose does not belong to this plan."]
    }
    assert not ServiceChange.objects.exists()
    service.refresh_from_db()
    assert service.product.name == "Medium"


# --- cancellation ---------------------------------------------------------------------------


def _plain_service(customer, *, refund: bool = False) -> Service:
    product = ProductFactory(name="Web Starter", refund_on_immediate_cancel=refund)
    ProductPriceFactory(product=product)
    service = Service.objects.create(
        customer=customer,
        product=product,
        cycle="monthly",
        currency="USD",
        recurring_amount=Decimal("30.00"),
        status="active",
        next_due_date=timezone.localdate() + timedelta(days=15),
    )
    if refund:
        paid_current_period(service)
    return service


def test_cancel_at_period_end_then_withdraw(customer):
    service = _plain_service(customer)
    client = api(customer, "services")
    base = f"/api/v1/services/{service.pk}/cancel/"
    quote = client.post(f"{base}quote/", {"kind": "end_of_period"}, content_type="application/json")
    assert quote.json()["effective_on"] == f"{service.next_due_date:%Y-%m-%d}"
    assert not CancellationRequest.objects.exists()  # the quote changes nothing

    body = {"kind": "end_of_period", "reason": "not_needed"}
    done = _post(client, base, body)
    assert done.status_code == 201, done.content
    assert done.json()["detail"].startswith("Your service will end on")
    assert _post(client, base, body).json() == done.json()
    assert CancellationRequest.objects.count() == 1

    withdrawn = client.post(f"{base}withdraw/")
    assert withdrawn.status_code == 200, withdrawn.content
    assert withdrawn.json()["status"] == "withdrawn"
    assert client.post(f"{base}withdraw/").json() == withdrawn.json()  # done already
    service.refresh_from_db()
    assert service.ends_on is None


def test_immediate_cancellation_refunds_to_credit(customer):
    service = _plain_service(customer, refund=True)
    response = _post(
        api(customer, "services"),
        f"/api/v1/services/{service.pk}/cancel/",
        {"kind": "immediate", "reason": "too_expensive"},
    )
    assert response.status_code == 201, response.content
    refund = response.json()["refund"]
    assert refund is not None
    assert Decimal(refund["amount"]) > 0
    service.refresh_from_db()
    assert service.status == "terminated"
    assert credit_balance(customer=customer, currency="USD").amount == Decimal(refund["amount"])


def test_cancellation_bad_input_is_the_pages_message(customer):
    service = _plain_service(customer)
    client = api(customer, "services")
    url = f"/api/v1/services/{service.pk}/cancel/"
    bad = _is_error(_post(client, url, {"kind": "later", "reason": "not_needed"}), 400)
    assert bad["errors"]["kind"] == ["Choose when the service should end."]
    bad = _is_error(_post(client, url, {"kind": "immediate", "reason": "x"}, "2"), 400)
    assert bad["errors"]["reason"] == ["Choose a reason for cancelling."]
    assert not CancellationRequest.objects.exists()


# --- isolation and scopes -------------------------------------------------------------------


def _object_urls(service: Service, operation_id: int) -> list[tuple[str, str]]:
    base = f"/api/v1/services/{service.pk}"
    return [
        ("get", f"{base}/actions/"),
        ("post", f"{base}/actions/echo/"),
        ("post", f"{base}/site-domains/via-zone/"),
        ("post", f"{base}/login/"),
        ("get", f"{base}/operations/{operation_id}/"),
        ("post", f"{base}/auto-backups/"),
        ("get", f"{base}/change-plan/"),
        ("post", f"{base}/change-plan/"),
        ("post", f"{base}/cancel/quote/"),
        ("post", f"{base}/cancel/"),
        ("post", f"{base}/cancel/withdraw/"),
    ]


def test_another_customers_service_is_404_everywhere(customer, other_customer):
    service = _on_panel(customer)
    owner = api(customer, "read", "services")
    operation = _post(owner, f"/api/v1/services/{service.pk}/actions/echo/", {}).json()
    intruder = api(other_customer, "read", "services")
    bodies = {
        "auto-backups": {"enabled": True},
        "change-plan": {"product": service.product_id},
        "quote": {"kind": "immediate"},
        "cancel": {"kind": "immediate", "reason": "other"},
        "via-zone": {"domain": "shop.example"},
    }
    for i, (method, url) in enumerate(_object_urls(service, operation["id"])):
        body = next((b for name, b in bodies.items() if f"/{name}/" in url), {})
        response = intruder.get(url) if method == "get" else _post(intruder, url, body, f"i{i}")
        assert response.status_code == 404, (url, response.content)
    service.refresh_from_db()
    assert service.status == "active"
    assert Op.objects.count() == 1


def test_a_key_without_the_services_scope_is_refused(customer):
    service = _on_panel(customer)
    reader = api(customer, "read")
    for method, url in _object_urls(service, 1):
        if method == "post" and not url.endswith("/login/"):  # login: `read`
            assert _is_error(_post(reader, url, {}), 403)["code"] == "scope_missing", url
    assert not Op.objects.exists()
