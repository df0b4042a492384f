"""Throttles on password reset, verification resend, registration and login: per submitted
address and per client IP, answered 429 with a page that says so, before any email is
queued or password checked."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse
from redis.exceptions import ConnectionError as RedisConnectionError

from accounts.models import User
from accounts.tests.factories import PASSWORD, CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
ADMIN_LOGIN = reverse("admin:login")
RESET = reverse("accounts:password_reset")
RESEND = reverse("accounts:resend_verification")
REGISTER = reverse("accounts:register")


def _ip(n: int) -> str:
    return f"198.51.{n // 250}.{n % 250 + 1}"


def _post(client, url, data, *, ip="203.0.113.7", capture=None):
    if capture is None:
        return client.post(url, data, REMOTE_ADDR=ip)
    with capture(execute=True):
        return client.post(url, data, REMOTE_ADDR=ip)


def _registration(email: str) -> dict:
    return {
        "name": "Grace Hopper",
        "company": "",
        "email": email,
        "country": "US",
        "password1": "x-Cobol-1959!",
        "password2": "x-Cobol-1959!",
    }


def _assert_throttled_page(response, heading: str, outcome: str) -> None:
    assert response.status_code == 429
    page = response.content.decode().replace("\xa0", " ")
    assert heading in page
    assert outcome in page
    assert "Please try again in " in page
    assert 0 < int(response["Retry-After"]) <= 3600


def test_reset_requests_for_one_address_send_a_few_emails_then_429(
    client, customer, mailoutbox, django_capture_on_commit_callbacks
):
    # 15 requests in a row for one address, from as many addresses, in any letter case
    email = customer.user.email
    statuses = [
        _post(
            client,
            RESET,
            {"email": email.upper() if n % 2 else email},
            ip=_ip(n),
            capture=django_capture_on_commit_callbacks,
        ).status_code
        for n in range(15)
    ]
    assert statuses == [302] * 3 + [429] * 12
    assert len(mailoutbox) == 3
    response = _post(client, RESET, {"email": email}, ip=_ip(99))
    _assert_throttled_page(response, "Too many password reset requests", "No email was sent.")


def test_reset_requests_from_one_ip_are_throttled_across_addresses(
    client, db, mailoutbox, django_capture_on_commit_callbacks
):
    statuses = [
        _post(client, RESET, {"email": f"user{n}@example.com"}).status_code for n in range(21)
    ]
    assert statuses == [302] * 20 + [429]
    # a customer on another network is not affected
    customer = CustomerFactory()
    response = _post(
        client,
        RESET,
        {"email": customer.user.email},
        ip="192.0.2.44",
        capture=django_capture_on_commit_callbacks,
    )
    assert response.status_code == 302
    assert len(mailoutbox) == 1


def test_the_throttle_counts_the_client_behind_the_proxy_not_the_proxy(client, db, settings):
    settings.TRUSTED_PROXY_COUNT = 1

    def reset(n: int, real_ip: str):
        return client.post(
            RESET,
            {"email": f"user{n}@example.com"},
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n % 250 + 1}, {real_ip}",
        ).status_code

    # rotating spoofed left-most entries: still one client
    assert [reset(n, "203.0.113.7") for n in range(21)] == [302] * 20 + [429]
    # another client behind the same proxy has its own count
    assert reset(99, "203.0.113.8") == 302


def test_verification_resend_is_throttled_per_address(
    client, db, mailoutbox, django_capture_on_commit_callbacks
):
    user = UserFactory(email_verified_at=None)
    statuses = [
        _post(
            client,
            RESEND,
            {"email": user.email},
            ip=_ip(n),
            capture=django_capture_on_commit_callbacks,
        ).status_code
        for n in range(10)
    ]
    assert statuses == [302] * 3 + [429] * 7
    assert len(mailoutbox) == 3
    response = _post(client, RESEND, {"email": user.email}, ip=_ip(99))
    _assert_throttled_page(response, "Too many verification link requests", "No email was sent.")


def test_verification_resend_is_throttled_per_ip(client, db):
    statuses = [
        _post(client, RESEND, {"email": f"u{n}@example.com"}).status_code for n in range(21)
    ]
    assert statuses == [302] * 20 + [429]


def test_registrations_from_one_ip_are_throttled(
    client, db, mailoutbox, django_capture_on_commit_callbacks
):
    statuses = [
        _post(
            client,
            REGISTER,
            _registration(f"new{n}@example.com"),
            capture=django_capture_on_commit_callbacks,
        ).status_code
        for n in range(12)
    ]
    assert statuses == [200] * 10 + [429] * 2
    assert User.objects.count() == 10
    assert len(mailoutbox) == 10
    response = _post(client, REGISTER, _registration("late@example.com"))
    _assert_throttled_page(response, "Too many sign-ups", "No account was created.")
    assert not User.objects.filter(email="late@example.com").exists()


def test_registrations_of_one_address_are_throttled(client, db):
    statuses = [
        _post(client, REGISTER, _registration("Same@Example.com"), ip=_ip(n)).status_code
        for n in range(5)
    ]
    # the first creates the account, the next two are told it exists, then 429
    assert statuses == [200, 200, 200, 429, 429]
    assert User.objects.count() == 1


def test_one_ip_cannot_spray_logins_across_many_accounts(client, db):
    accounts = [UserFactory() for _ in range(31)]
    statuses = [
        _post(client, LOGIN, {"username": user.email, "password": "wrong-password"}).status_code
        for user in accounts[:30]
    ]
    assert statuses == [200] * 30
    # the 31st attempt from that IP is refused before the password is checked, even right
    response = _post(client, LOGIN, {"username": accounts[30].email, "password": PASSWORD})
    _assert_throttled_page(response, "Too many login attempts", "Your password was not checked.")
    assert "_auth_user_id" not in client.session
    # from elsewhere the same account logs in
    response = _post(
        client, LOGIN, {"username": accounts[30].email, "password": PASSWORD}, ip="192.0.2.44"
    )
    assert response.status_code == 302


def test_many_ips_cannot_guess_at_one_account_without_limit(client, customer, settings):
    settings.THROTTLE_RATES = {
        **settings.THROTTLE_RATES,
        "login": {"address": "10/h", "ip": "30/10m"},
    }
    email = customer.user.email
    statuses = [
        _post(
            client, LOGIN, {"username": email, "password": "wrong-password"}, ip=_ip(n)
        ).status_code
        for n in range(12)
    ]
    assert statuses == [200] * 10 + [429] * 2


def test_the_admin_login_shares_the_login_limits(client, db):
    staff = UserFactory(is_staff=True, is_superuser=True)
    for n in range(30):
        _post(client, LOGIN, {"username": f"user{n}@example.com", "password": "wrong"})
    response = _post(client, ADMIN_LOGIN, {"username": staff.email, "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_pages_are_not_counted(client, db):
    for _ in range(40):
        assert client.get(LOGIN, REMOTE_ADDR="203.0.113.7").status_code == 200
    assert _post(client, RESET, {"email": "a@example.com"}).status_code == 302


def test_an_unreachable_cache_lets_logins_through(client, customer, monkeypatch):
    def down(*args, **kwargs):
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(cache, "add", down)
    response = _post(client, LOGIN, {"username": customer.user.email, "password": PASSWORD})
    assert response.status_code == 302
