"""Registration, email verification by link, and the first login."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from accounts.audit import AccountAudit
from accounts.models import User
from accounts.tests.factories import PASSWORD, CustomerFactory
from billing_portal.common.audit import AuditEvent

pytestmark = pytest.mark.django_db

REGISTER = reverse("accounts:register")
LOGIN = reverse("accounts:login")
NEW_PASSWORD = "a-long-unusual-passphrase-42"


def _register(client, django_capture_on_commit_callbacks, **overrides):
    data = {
        "name": "Ada Lovelace",
        "company": "Analytical Engines",
        "email": "Ada@Example.com",
        "country": "GB",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
        **overrides,
    }
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(REGISTER, data)


def _link_from(message) -> str:
    match = re.search(r"https?://\S+/accounts/verify/\S+/", message.body)
    assert match, message.body
    return match.group(0)


def test_register_verify_login_dashboard_logout(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    # given a visitor who registers
    response = _register(client, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert b"Check your email" in response.content
    user = User.objects.get()
    assert user.email == "ada@example.com"
    assert user.customer.name == "Ada Lovelace"
    assert not user.is_email_verified

    # then one verification email went out, with text and HTML parts
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["ada@example.com"]
    assert "Confirm your email" in message.subject
    assert message.alternatives[0][1] == "text/html"

    # when they follow the link from the mail
    response = client.get(_link_from(message), follow=True)
    assert response.redirect_chain[-1][0] == LOGIN
    assert b"Your email address is verified" in response.content
    user.refresh_from_db()
    assert user.is_email_verified

    # and log in
    response = client.post(LOGIN, {"username": "ADA@example.com", "password": NEW_PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("dashboard")
    response = client.get(reverse("dashboard"))
    assert b"Welcome, Ada Lovelace" in response.content

    # and log out
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 302

    actions = list(
        AuditEvent.objects.filter(customer=user.customer)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        AccountAudit.ACCOUNT_REGISTERED,
        AccountAudit.EMAIL_VERIFIED,
        AccountAudit.LOGIN,
        AccountAudit.LOGOUT,
    ]


def test_unverified_user_cannot_log_in_and_is_told_why(client, db):
    customer = CustomerFactory(user__email_verified_at=None)
    response = client.post(LOGIN, {"username": customer.user.email, "password": PASSWORD})
    assert response.status_code == 200
    assert b"Please verify your email address first" in response.content
    assert "_auth_user_id" not in client.session


def test_duplicate_email_is_refused_with_a_clear_error(
    client, customer, django_capture_on_commit_callbacks, mailoutbox
):
    response = _register(
        client, django_capture_on_commit_callbacks, email=customer.user.email.upper()
    )
    assert response.status_code == 200
    assert b"An account with this email address already exists" in response.content
    assert User.objects.count() == 1
    assert mailoutbox == []


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"password2": "something-else-entirely"}, "password2", "do not match"),
        ({"password1": "short", "password2": "short"}, "password1", "too short"),
        ({"email": "not-an-email"}, "email", "valid email"),
        ({"name": ""}, "name", "required"),
        ({"name": "Grace\u202eeppoh"}, "name", "control characters"),
        ({"company": "Navy\nLtd"}, "company", "control characters"),
    ],
)
def test_invalid_registration_changes_nothing(
    client, django_capture_on_commit_callbacks, mailoutbox, overrides, field, message
):
    response = _register(client, django_capture_on_commit_callbacks, **overrides)
    assert response.status_code == 200
    errors = response.context["form"].errors[field]
    assert any(message in error for error in errors), errors
    assert User.objects.count() == 0
    assert AuditEvent.objects.count() == 0
    assert mailoutbox == []


def test_verification_link_is_checked_and_repeat_clicks_are_harmless(
    client, django_capture_on_commit_callbacks, mailoutbox
):
    _register(client, django_capture_on_commit_callbacks)
    link = _link_from(mailoutbox[0])

    tampered = link.rstrip("/") + "x/"
    response = client.get(tampered)
    assert response.status_code == 400
    assert b"invalid or has expired" in response.content
    assert not User.objects.get().is_email_verified

    assert client.get(link).status_code == 302
    assert client.get(link).status_code == 302
    assert AuditEvent.objects.filter(action=AccountAudit.EMAIL_VERIFIED).count() == 1


def test_a_bogus_token_for_a_verified_account_is_refused(client, customer):
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    uid = urlsafe_base64_encode(force_bytes(customer.user.pk))
    response = client.get(reverse("accounts:verify_email", args=[uid, "abc-bogus"]))
    assert response.status_code == 400
    assert b"invalid or has expired" in response.content
    assert b"Your email address is verified" not in response.content


def test_resend_verification_only_mails_unverified_accounts(
    client, customer, django_capture_on_commit_callbacks, mailoutbox
):
    unverified = CustomerFactory(user__email_verified_at=None)
    url = reverse("accounts:resend_verification")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"email": unverified.user.email})
        client.post(url, {"email": customer.user.email})
        response = client.post(url, {"email": "nobody@example.com"}, follow=True)
    assert b"a new link is on" in response.content
    assert [m.to for m in mailoutbox] == [[unverified.user.email]]
