"""Cancellation in the client area (the page, its confirmation step, withdrawal; bad input and
other customers' services) and in the admin (the requests list, the report, cancelling on a
customer's behalf, each with its permission); and an order refused for want of server room
on the order page, before any invoice."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from accounts.tests.helpers import assert_customer_isolation
from billing.tests.factories import paid_current_period
from catalogue.tests.factories import ProductFactory, ProductPriceFactory
from credits.services import credit_balance
from invoices.models import Invoice
from provisioning.models import CancellationRequest, ProductPlacement, Service
from provisioning.tests.factories import ServerFactory, panel_product

pytestmark = pytest.mark.django_db


def _service(customer, *, refund: bool = False, status: str = "active", days: int = 15):
    product = ProductFactory(name="Web Starter", refund_on_immediate_cancel=refund)
    ProductPriceFactory(product=product)
    today = timezone.localdate()
    service = Service.objects.create(
        customer=customer,
        product=product,
        cycle="monthly",
        currency="USD",
        recurring_amount=Decimal("30.00"),
        status=status,
        next_due_date=today + timedelta(days=days),
    )
    if refund:  # the current period was paid: its unused part is refunded
        paid_current_period(service)
    return service


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _urls(service) -> dict[str, str]:
    return {
        "page": reverse("provisioning:service_cancel", args=[service.pk]),
        "withdraw": reverse("provisioning:service_cancel_withdraw", args=[service.pk]),
        "detail": reverse("provisioning:service_detail", args=[service.pk]),
    }


def test_the_service_page_links_to_cancel_and_the_review_step_changes_nothing(client, customer):
    service = _service(customer, refund=True)
    urls = _urls(service)
    client.force_login(customer.user)
    assert urls["page"] in client.get(urls["detail"]).content.decode()

    page = client.get(urls["page"]).content.decode()
    assert 'data-testid="cancel-form"' in page
    form = {"kind": "immediate", "reason": "not_needed", "reason_text": "done"}
    review = client.post(urls["page"], form).content.decode()
    assert 'data-testid="cancel-confirm"' in review
    assert "is added to your account credit" in review  # the refund, before confirming
    assert "Confirm cancellation" in review
    service.refresh_from_db()
    assert service.status == "active"
    assert not CancellationRequest.objects.exists()

    response = client.post(urls["page"], {**form, "confirm": "on"})
    assert response.url == urls["detail"]
    service.refresh_from_db()
    assert service.status == "terminated"
    refund = CancellationRequest.objects.get().refund
    assert refund is not None
    assert f"{refund} was added to your account credit" in _messages(response)[0]
    assert credit_balance(customer=customer, currency="USD") == refund
    # a second submit of the same form changes nothing
    client.post(urls["page"], {**form, "confirm": "on"})
    assert CancellationRequest.objects.count() == 1
    assert credit_balance(customer=customer, currency="USD") == refund
    assert "nothing to cancel" in client.get(urls["page"]).content.decode()


def test_end_of_period_from_the_page_then_withdrawn(client, customer):
    service = _service(customer)
    urls = _urls(service)
    client.force_login(customer.user)
    form = {"kind": "end_of_period", "reason": "switching"}
    review = client.post(urls["page"], form).content.decode()
    due = f"{service.next_due_date:%Y-%m-%d}"
    assert f"keeps working until <strong>{due}</strong>" in review
    assert "No refund" in review

    response = client.post(urls["page"], {**form, "confirm": "on"})
    assert f"will end on {due}" in _messages(response)[0]
    detail = client.get(urls["detail"]).content.decode()
    assert f"ends on <strong>{due}</strong>" in detail
    assert "Withdraw cancellation" in detail
    assert 'data-testid="cancel-pending"' in client.get(urls["page"]).content.decode()

    response = client.post(urls["withdraw"])
    assert response.url == urls["detail"]
    assert "withdrawn" in _messages(response)[0]
    service.refresh_from_db()
    assert service.ends_on is None
    assert CancellationRequest.objects.get().status == "withdrawn"


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"kind": "tomorrow", "reason": "other", "confirm": "on"}, "when the service should end"),
        ({"kind": "immediate", "reason": "", "confirm": "on"}, "Choose a reason"),
        ({"kind": "immediate", "reason": "bored", "confirm": "on"}, "Choose a reason"),
        (
            {"kind": "immediate", "reason": "other", "reason_text": "x" * 2001, "confirm": "on"},
            "2000",
        ),
        (
            {"kind": "immediate", "reason": "other", "reason_text": "a\x00b", "confirm": "on"},
            "Null",
        ),
    ],
    ids=["kind", "no-reason", "unknown-reason", "long-text", "nul"],
)
def test_bad_input_gives_a_message_and_changes_nothing(client, customer, form, message):
    service = _service(customer)
    client.force_login(customer.user)
    response = client.post(_urls(service)["page"], form)
    assert response.status_code == 302
    assert any(message in text for text in _messages(response)), _messages(response)
    service.refresh_from_db()
    assert service.status == "active"
    assert not CancellationRequest.objects.exists()


def test_services_that_cannot_be_cancelled_say_why(client, customer):
    client.force_login(customer.user)
    terminated = _service(customer, status="terminated")
    response = client.post(
        _urls(terminated)["page"], {"kind": "immediate", "reason": "other", "confirm": "on"}
    )
    assert "cannot be cancelled" in _messages(response)[-1]
    response = client.post(_urls(terminated)["withdraw"])
    assert "no cancellation" in _messages(response)[-1]
    one_time = _service(customer)
    Service.objects.filter(pk=one_time.pk).update(cycle="one_time", next_due_date=None)
    response = client.post(_urls(one_time)["page"], {"kind": "end_of_period", "reason": "other"})
    assert "no paid period" in _messages(response)[-1]
    assert not CancellationRequest.objects.exists()
    suspended = _service(customer, status="suspended")
    assert 'data-testid="cancel-form"' in client.get(_urls(suspended)["page"]).content.decode()


def test_customers_cannot_see_or_cancel_each_others_services(client, customer, other_customer):
    service = _service(customer)
    urls = _urls(service)
    assert_customer_isolation(client, urls=[urls["page"]], owner=customer, intruder=other_customer)
    review = {"kind": "end_of_period", "reason": "other"}
    assert_customer_isolation(
        client,
        urls=[urls["page"]],
        owner=customer,
        intruder=other_customer,
        method="post",
        data=review,
    )
    confirm = {**review, "confirm": "on"}
    client.force_login(other_customer.user)
    assert client.post(urls["page"], confirm).status_code == 404
    assert client.post(urls["withdraw"]).status_code == 404
    assert not CancellationRequest.objects.exists()
    assert_customer_isolation(
        client,
        urls=[urls["page"]],
        owner=customer,
        intruder=other_customer,
        method="post",
        data=confirm,
    )
    assert CancellationRequest.objects.get().status == "requested"
    assert_customer_isolation(
        client, urls=[urls["withdraw"]], owner=customer, intruder=other_customer, method="post"
    )
    assert CancellationRequest.objects.get().status == "withdrawn"
    client.logout()
    assert client.get(urls["page"]).status_code == 302  # to the login page


def test_staff_list_filter_report_and_cancel_on_behalf(customer, staff_client_factory):
    first, second = _service(customer), _service(customer, refund=True)
    viewer = staff_client_factory("view_cancellationrequest", "view_service")
    canceller = staff_client_factory(
        "view_cancellationrequest", "view_service", "change_service", "cancel_service"
    )
    services_url = reverse("admin:provisioning_service_changelist")
    # only staff holding the permission are offered (and may run) the actions
    assert "cancel_now" not in viewer.get(services_url).content.decode()
    viewer.post(services_url, {"action": "cancel_now", "_selected_action": [first.pk]})
    assert not CancellationRequest.objects.exists()
    response = canceller.post(
        services_url, {"action": "cancel_at_period_end", "_selected_action": [first.pk]}
    )
    assert response.status_code == 302
    canceller.post(services_url, {"action": "cancel_now", "_selected_action": [second.pk]})
    second.refresh_from_db()
    assert second.status == "terminated"
    requests = CancellationRequest.objects.order_by("pk")
    assert [(r.kind, r.status, r.actor.is_staff) for r in requests] == [
        ("end_of_period", "requested", True),
        ("immediate", "completed", True),
    ]

    listing = reverse("admin:provisioning_cancellationrequest_changelist")
    assert viewer.get(listing, {"status__exact": "requested"}).context["cl"].result_count == 1
    assert viewer.get(listing, {"kind__exact": "immediate"}).context["cl"].result_count == 1
    assert viewer.get(listing, {"reason__exact": "other"}).context["cl"].result_count == 2

    report_url = reverse("admin:provisioning_cancellationrequest_report")
    assert viewer.get(report_url).status_code == 403
    reporter = staff_client_factory("view_cancellationrequest", "see_cancellation_report")
    today = timezone.localdate()
    page = reporter.get(report_url, {"start": f"{today:%Y-%m-%d}", "end": f"{today:%Y-%m-%d}"})
    report = page.context["report"]
    assert (report.total.requested, report.total.completed) == (2, 1)
    assert [(row.label, row.requested) for row in report.by_reason] == [("Other", 2)]
    assert [(row.label, row.requested) for row in report.by_product] == [("Web Starter", 2)]
    bad = reporter.get(report_url, {"start": "2026-02-01", "end": "2026-01-01"})
    assert bad.status_code == 200
    assert bad.context["report"] is None
    assert "must come before" in bad.content.decode()
    assert reporter.get(report_url, {"start": "nonsense", "end": ""}).status_code == 200

    selected = [r.pk for r in requests]
    response = canceller.post(listing, {"action": "withdraw", "_selected_action": selected})
    assert f"{first}: withdrawn" in _messages(response)
    statuses = CancellationRequest.objects.order_by("pk").values_list("status", flat=True)
    assert list(statuses) == ["withdrawn", "completed"]  # the completed one is left alone


def test_the_order_page_refuses_an_order_no_server_has_room_for(client, customer):
    server = ServerFactory(capacity_memory_mb=2048)
    product = panel_product(server)
    ProductPlacement.objects.filter(product=product).update(memory_mb=4096)
    client.force_login(customer.user)
    for step in ({}, {"place": "1"}):  # the review and the placing of the order
        response = client.post(f"/order/{product.slug}/", {"cycle": "monthly", **step})
        assert response.status_code == 200
        assert "cannot be ordered right now" in response.content.decode()
    assert not Invoice.objects.exists()
    assert not Service.objects.exists()
