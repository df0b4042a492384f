"""Staff screens: customer search and the read-only audit log."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.audit import AccountAudit
from accounts.tests.factories import AuditEventFactory, CustomerFactory
from payments.audit import PaymentAudit

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "query", ["grace@navy.example", "Grace Hopper", "Compilers Inc", "compilers"]
)
def test_customers_are_searchable_by_email_name_and_company(staff_client, query):
    CustomerFactory(user__email="grace@navy.example", name="Grace Hopper", company="Compilers Inc")
    CustomerFactory(user__email="alan@example.com", name="Alan Turing", company="Bletchley")
    response = staff_client.get(reverse("admin:accounts_customer_changelist"), {"q": query})
    assert response.status_code == 200
    names = [c.name for c in response.context["cl"].result_list]
    assert names == ["Grace Hopper"]


def test_audit_log_is_read_only_with_filters(staff_client):
    event = AuditEventFactory(action=AccountAudit.LOGIN_FAILED)
    changelist = reverse("admin:common_auditevent_changelist")

    response = staff_client.get(changelist, {"action__exact": AccountAudit.LOGIN_FAILED})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [event]
    page = response.content.decode()
    assert '<td class="field-action_label">Login failed</td>' in page
    # the filter offers the actions every app declares, by label
    assert ">Payment received</a>" in page
    assert ">VPS tokens added</a>" in page
    assert (
        staff_client.get(changelist, {"action__exact": PaymentAudit.PAYMENT_RECEIVED})
        .context["cl"]
        .result_count
        == 0
    )

    assert staff_client.get(reverse("admin:common_auditevent_add")).status_code == 403
    change_url = reverse("admin:common_auditevent_change", args=[event.pk])
    response = staff_client.get(change_url)
    assert response.status_code == 200
    assert not response.context["has_change_permission"]
    assert "Login failed" in response.content.decode()
    staff_client.post(change_url, {"action": AccountAudit.LOGIN})
    event.refresh_from_db()
    assert event.action == AccountAudit.LOGIN_FAILED
    delete_url = reverse("admin:common_auditevent_delete", args=[event.pk])
    assert staff_client.post(delete_url, {"post": "yes"}).status_code == 403


def test_customers_cannot_open_the_admin(client, customer):
    client.force_login(customer.user)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert reverse("admin:login") in response.url
