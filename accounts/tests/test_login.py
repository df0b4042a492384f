"""Login, failed logins, throttling (axes) and session handling."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts.audit import AccountAudit
from accounts.tests.factories import PASSWORD, UserFactory
from billing_portal.common.audit import AuditEvent

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
ADMIN_LOGIN = reverse("admin:login")


def _attempt(client, email, password, ip="198.51.100.10", url=LOGIN):
    return client.post(
        url,
        {"username": email, "password": password},
        REMOTE_ADDR=ip,
        HTTP_USER_AGENT="pytest-browser/1.0",
    )


def test_failed_login_shows_an_error_and_is_audited(client, customer):
    response = _attempt(client, customer.user.email, "wrong-password")
    assert response.status_code == 200
    assert b"The email address or password is incorrect" in response.content
    event = AuditEvent.objects.get(action=AccountAudit.LOGIN_FAILED)
    assert event.customer == customer
    assert event.ip_address == "198.51.100.10"
    assert event.user_agent == "pytest-browser/1.0"
    assert event.details == {"username": customer.user.email}
    assert event.actor is None


def test_failed_login_for_unknown_email_is_audited_without_customer(client, db):
    _attempt(client, "ghost@example.com", "whatever")
    event = AuditEvent.objects.get(action=AccountAudit.LOGIN_FAILED)
    assert event.customer is None
    assert event.details == {"username": "ghost@example.com"}


def test_successful_login_rotates_the_session_key_and_is_audited(client, customer):
    client.get(LOGIN)
    session = client.session
    session["anonymous-marker"] = True
    session.save()
    before = session.session_key

    response = _attempt(client, customer.user.email, PASSWORD)

    assert response.status_code == 302
    assert client.session.session_key != before
    assert client.session["_auth_user_id"] == str(customer.user.pk)
    event = AuditEvent.objects.get(action=AccountAudit.LOGIN)
    assert event.actor == customer.user
    assert event.customer == customer


def test_five_failures_lock_the_username_and_ip_pair(client, customer):
    email = customer.user.email
    for _ in range(5):
        _attempt(client, email, "wrong-password")

    # the right password is refused while locked
    response = _attempt(client, email, PASSWORD)
    assert response.status_code == 429
    assert b"Too many failed logins" in response.content
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action=AccountAudit.LOGIN_LOCKED_OUT).exists()

    # another address is not locked out (username + IP), nor is the email in another case
    assert _attempt(client, email, PASSWORD, ip="198.51.100.99").status_code == 302
    client.logout()
    assert _attempt(client, email.upper(), PASSWORD).status_code == 429


def test_the_lockout_page_says_how_long_in_words(client, customer):
    for _ in range(5):
        _attempt(client, customer.user.email, "wrong-password")
    page = _attempt(client, customer.user.email, PASSWORD).content.decode().replace("\xa0", " ")
    assert "Try again in 15 minutes," in page
    assert "PT15M" not in page


def test_four_failures_do_not_lock(client, customer):
    for _ in range(4):
        _attempt(client, customer.user.email, "wrong-password")
    assert _attempt(client, customer.user.email, PASSWORD).status_code == 302


def test_lockout_cools_off_after_fifteen_minutes(client, customer):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(5):
            _attempt(client, customer.user.email, "wrong-password")
        assert _attempt(client, customer.user.email, PASSWORD).status_code == 429
    with time_machine.travel(start + timedelta(minutes=14), tick=False):
        assert _attempt(client, customer.user.email, PASSWORD).status_code == 429
    with time_machine.travel(start + timedelta(minutes=16), tick=False):
        assert _attempt(client, customer.user.email, PASSWORD).status_code == 302


def test_admin_login_is_throttled_too(client, db):
    staff = UserFactory(is_staff=True, is_superuser=True)
    for _ in range(5):
        _attempt(client, staff.email, "wrong-password", url=ADMIN_LOGIN)
    response = _attempt(client, staff.email, PASSWORD, url=ADMIN_LOGIN)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_login_page_redirects_logged_in_users(client, customer):
    client.force_login(customer.user)
    response = client.get(LOGIN)
    assert response.status_code == 302
    assert response.url == reverse("dashboard")


def test_logout_requires_post(client, customer):
    client.force_login(customer.user)
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert "_auth_user_id" in client.session


# --- behind the reverse proxy (TRUSTED_PROXY_COUNT=1, as in .env.example) ---------------

PROXY = "10.0.0.1"


def _attempt_via_proxy(client, email, password, *, real_ip, spoofed):
    """A login through one proxy: the client sent its own X-Forwarded-For entry (spoofed),
    the proxy appended the address it saw (real_ip) and connected from PROXY."""
    return client.post(
        LOGIN,
        {"username": email, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=f"{spoofed}, {real_ip}",
    )


def test_rotating_spoofed_forwarded_for_entries_still_lock_out(client, customer, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    email, real_ip = customer.user.email, "203.0.113.7"
    statuses = [
        _attempt_via_proxy(
            client, email, "wrong-password", real_ip=real_ip, spoofed=f"192.0.2.{n + 1}"
        ).status_code
        for n in range(settings.AXES_FAILURE_LIMIT)
    ]
    # the failure that reaches the limit is answered with the lockout page
    assert statuses == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]

    response = _attempt_via_proxy(client, email, PASSWORD, real_ip=real_ip, spoofed="192.0.2.99")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    # the audit log records the address the proxy saw, never the spoofed entries
    events = AuditEvent.objects.filter(
        action__in=[AccountAudit.LOGIN_FAILED, AccountAudit.LOGIN_LOCKED_OUT]
    )
    assert set(events.values_list("ip_address", flat=True)) == {real_ip}

    # the owner, from another address, is not locked out (the lockout is per email + IP)
    response = _attempt_via_proxy(
        client, email, PASSWORD, real_ip="203.0.113.200", spoofed="192.0.2.1"
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(customer.user.pk)
