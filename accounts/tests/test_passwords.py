"""Password reset by email link and password change."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from accounts.audit import AccountAudit
from accounts.tests.factories import PASSWORD, CustomerFactory
from billing_portal.common.audit import AuditEvent

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
RESET = reverse("accounts:password_reset")
NEW_PASSWORD = "brand-new-passphrase-77"


def _request_reset(client, email, capture):
    with capture(execute=True):
        return client.post(RESET, {"email": email})


def _reset_link(message) -> str:
    match = re.search(r"https?://\S+/accounts/password/reset/\S+/", message.body)
    assert match, message.body
    return match.group(0)


def test_password_reset_by_emailed_link(
    client, customer, mailoutbox, django_capture_on_commit_callbacks
):
    # given a reset request
    response = _request_reset(client, customer.user.email, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert response.url == reverse("accounts:password_reset_done")
    assert len(mailoutbox) == 1
    link = _reset_link(mailoutbox[0])

    # when the customer opens the link and sets a new password
    response = client.get(link, follow=True)
    form_url = response.redirect_chain[-1][0]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
        )
    assert response.status_code == 302
    assert response.url == reverse("accounts:password_reset_complete")

    # then the old password fails, the new one works, and the owner was told
    assert (
        client.post(LOGIN, {"username": customer.user.email, "password": PASSWORD}).status_code
        == 200
    )
    response = client.post(LOGIN, {"username": customer.user.email, "password": NEW_PASSWORD})
    assert response.status_code == 302
    assert "password was changed" in mailoutbox[-1].subject
    assert AuditEvent.objects.filter(
        customer=customer, action=AccountAudit.PASSWORD_RESET_REQUESTED
    ).exists()
    changed = AuditEvent.objects.get(customer=customer, action=AccountAudit.PASSWORD_CHANGED)
    assert changed.details == {"via": "reset"}

    # and the link cannot be used twice
    client.logout()
    response = client.get(link, follow=True)
    assert b"invalid, has already been used" in response.content


def test_reset_for_unknown_email_looks_the_same_and_sends_nothing(
    client, db, mailoutbox, django_capture_on_commit_callbacks
):
    response = _request_reset(client, "nobody@example.com", django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert response.url == reverse("accounts:password_reset_done")
    assert mailoutbox == []
    assert AuditEvent.objects.count() == 0


def test_completed_reset_lifts_a_lockout_and_verifies_the_email(
    client, db, mailoutbox, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(user__email_verified_at=None)
    email = customer.user.email
    for _ in range(5):
        client.post(LOGIN, {"username": email, "password": "wrong"})
    assert client.post(LOGIN, {"username": email, "password": PASSWORD}).status_code == 429

    _request_reset(client, email, django_capture_on_commit_callbacks)
    response = client.get(_reset_link(mailoutbox[0]), follow=True)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            response.redirect_chain[-1][0],
            {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        )

    assert client.post(LOGIN, {"username": email, "password": NEW_PASSWORD}).status_code == 302
    customer.user.refresh_from_db()
    assert customer.user.is_email_verified


def test_password_change_keeps_the_session_and_is_audited(
    client, customer, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(customer.user)
    url = reverse("accounts:password_change")

    response = client.post(
        url,
        {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["old_password"]
    assert not AuditEvent.objects.filter(action=AccountAudit.PASSWORD_CHANGED).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url,
            {
                "old_password": PASSWORD,
                "new_password1": NEW_PASSWORD,
                "new_password2": NEW_PASSWORD,
            },
        )
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200  # still logged in
    customer.user.refresh_from_db()
    assert customer.user.check_password(NEW_PASSWORD)
    event = AuditEvent.objects.get(action=AccountAudit.PASSWORD_CHANGED)
    assert event.details == {"via": "change"}
    assert [m.to for m in mailoutbox] == [[customer.user.email]]
