"""The client-area shell: navigation, login requirement, empty states, customer isolation."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from accounts.audit import AccountAudit
from accounts.tests.factories import AuditEventFactory
from accounts.tests.helpers import assert_customer_isolation
from billing_portal.common.audit import AuditEvent

pytestmark = pytest.mark.django_db

CLIENT_PAGES = {
    "dashboard": "Recent account activity",
    "provisioning:service_list": "You have no services yet",
    "invoices:invoice_list": "No invoices yet",
    "credits:overview": "No transactions yet",
    "payments:payment_list": "No payments yet",
    "payments:card_list": "No saved cards",
    "dns:zone_list": "No DNS zones yet",
    "accounts:profile": "Save profile",
    "accounts:activity_list": "No activity yet",
    "accounts:password_change": "Change password",
}
NAV_LABELS = ["Dashboard", "Services", "Invoices", "Billing &amp; credits", "DNS", "Account"]


@pytest.mark.parametrize("url_name", CLIENT_PAGES)
def test_client_pages_require_login(client, url_name):
    url = reverse(url_name)
    response = client.get(url)
    assert response.status_code == 302
    assert response.url == f"{reverse('accounts:login')}?next={url}"


@pytest.mark.parametrize(("url_name", "marker"), CLIENT_PAGES.items())
def test_client_pages_render_with_navigation_and_empty_state(client, customer, url_name, marker):
    client.force_login(customer.user)
    AuditEvent.objects.all().delete()  # the login itself is audited; start from nothing
    response = client.get(reverse(url_name))
    assert response.status_code == 200
    html = response.content.decode()
    assert marker in html
    for label in NAV_LABELS:
        assert f">{label}</a>" in html
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in html


def test_navigation_marks_the_current_section(client, customer):
    client.force_login(customer.user)
    html = client.get(reverse("invoices:invoice_list")).content.decode()
    active = re.findall(r'class="nav-link active"[^>]*>([^<]+)<', html)
    assert active == ["Invoices"]


def test_pages_use_local_bootstrap_and_no_cdn(client, customer):
    client.force_login(customer.user)
    html = client.get(reverse("dashboard")).content.decode()
    assert "/static/bootstrap/css/bootstrap.min.css" in html
    assert "/static/bootstrap/js/bootstrap.bundle.min.js" in html
    external = re.findall(r'(?:src|href)="(https?://[^"]+)"', html)
    assert external == []


def test_activity_list_is_paginated_and_shows_only_own_events(client, customer, other_customer):
    AuditEventFactory.create_batch(30, customer=customer)
    AuditEventFactory(customer=other_customer, action=AccountAudit.PROFILE_CHANGED)
    client.force_login(customer.user)  # audited too: 31 events in all
    page1 = client.get(reverse("accounts:activity_list"))
    assert len(page1.context["events"]) == 25
    assert page1.context["page_obj"].paginator.count == 31
    assert "Profile changed" not in page1.content.decode()
    page2 = client.get(reverse("accounts:activity_list") + "?page=2")
    assert len(page2.context["events"]) == 6


def test_activity_detail_is_hidden_from_other_customers(client, customer, other_customer):
    event = AuditEventFactory(customer=customer)
    assert_customer_isolation(
        client,
        urls=[reverse("accounts:activity_detail", args=[event.pk])],
        owner=customer,
        intruder=other_customer,
    )


def test_isolation_helper_fails_when_a_page_leaks(client, customer, other_customer):
    # The profile page is per-user, not per-object: it answers 200 to anyone logged in,
    # which the helper must report as a leak.
    with pytest.raises(AssertionError, match="not 404"):
        assert_customer_isolation(
            client, urls=[reverse("accounts:profile")], owner=customer, intruder=other_customer
        )


def test_activity_list_runs_constant_queries(client, customer, django_assert_max_num_queries):
    client.force_login(customer.user)
    url = reverse("accounts:activity_list")
    with django_assert_max_num_queries(10) as one:
        client.get(url)
    AuditEventFactory.create_batch(50, customer=customer)
    with django_assert_max_num_queries(10) as fifty:
        client.get(url)
    assert len(one.captured_queries) == len(fifty.captured_queries)
