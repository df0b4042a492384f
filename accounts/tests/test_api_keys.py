"""API keys: made once and shown once, stored hashed, scoped, expiring, limited to networks,
revocable, their use recorded at most once a minute; Bearer authentication beside the
session (which keeps its CSRF check); the client-area pages and the admin screen."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.errors import ApiKeyRefused
from accounts.models import ApiKey
from accounts.tests.factories import CustomerFactory, UserFactory
from billing_portal.common.models import AuditEvent

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def new_key(user, **kwargs) -> services.NewApiKey:
    kwargs.setdefault("scopes", ["read"])
    return services.api_key_create(user=user, name=kwargs.pop("name", "Script"), **kwargs)


# --- the service ----------------------------------------------------------------------------


def test_a_key_is_shown_once_and_stored_only_as_a_hash(customer):
    # when
    new = new_key(customer.user)
    # then
    tag, prefix, secret = new.token.split("_", 2)
    assert (tag, prefix) == ("bpk", new.api_key.prefix)
    stored = ApiKey.objects.get()
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiKey.objects.values().get())
    event = AuditEvent.objects.get(action="api_key.created")
    assert (event.customer, event.actor) == (customer, customer.user)
    assert secret not in str(event.details)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "  "}, "Give the key a name."),
        ({"scopes": []}, "Choose at least one scope."),
        ({"scopes": ["staff:read"]}, "cannot have the scope 'staff:read'"),
        ({"scopes": ["root"]}, "cannot have the scope 'root'"),
        ({"allowed_ips": ["10.0.0.300"]}, "is not an IP address or network"),
        ({"expires_at": timezone.now() - timedelta(minutes=1)}, "must be in the future"),
    ],
)
def test_a_key_is_refused_as_asked_and_nothing_is_made(customer, kwargs, message):
    with pytest.raises(ApiKeyRefused, match=message):
        new_key(customer.user, **kwargs)
    assert not ApiKey.objects.exists()
    assert not AuditEvent.objects.exists()


def test_staff_scopes_only_for_staff_users():
    staff = UserFactory(is_staff=True)
    new = new_key(staff, scopes=["staff:read", "read"])
    assert new.api_key.scopes == ["staff:read", "read"]


def test_networks_are_kept_in_canonical_form(customer):
    new = new_key(customer.user, allowed_ips=["192.0.2.7", "198.51.100.9/24", "2001:db8::1"])
    assert new.api_key.allowed_ips == ["192.0.2.7/32", "198.51.100.0/24", "2001:db8::1/128"]


# --- Bearer authentication ------------------------------------------------------------------


def test_a_key_authenticates_as_its_user(client, customer):
    new = new_key(customer.user)
    response = client.get(ME, **bearer(new.token))
    assert response.status_code == 200
    assert response.json()["email"] == customer.user.email
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer a b",
        "Bearer bpk_nope_nope",
        "Bearer not-a-key",
        "Bearer bpk__",
        "Bearer " + "x" * 5000,
    ],
)
def test_a_bad_key_is_a_401_in_the_error_shape(client, customer, header):
    new_key(customer.user)
    response = client.get(ME, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    body = response.json()
    assert body["type"] == "client_error"
    assert body["code"] == "authentication_failed"
    assert set(body) == {"type", "code", "detail", "errors"}
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_wrong_secret_with_a_real_prefix_is_refused(client, customer):
    new = new_key(customer.user)
    assert client.get(ME, **bearer(new.token[:-2] + "zz")).status_code == 401


def test_no_credentials_at_all_is_a_401(client):
    response = client.get(ME)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_revoked_key_stops_working_at_once(client, customer):
    new = new_key(customer.user)
    assert client.get(ME, **bearer(new.token)).status_code == 200
    services.api_key_revoke(api_key_id=new.api_key.pk, user=customer.user, actor=customer.user)
    assert client.get(ME, **bearer(new.token)).status_code == 401
    assert AuditEvent.objects.filter(action="api_key.revoked", customer=customer).count() == 1


def test_revoking_twice_records_once(customer):
    new = new_key(customer.user)
    for _ in range(2):
        services.api_key_revoke(api_key_id=new.api_key.pk, user=customer.user, actor=customer.user)
    assert AuditEvent.objects.filter(action="api_key.revoked").count() == 1


def test_someone_elses_key_cannot_be_revoked(customer, other_customer):
    new = new_key(customer.user)
    with pytest.raises(ApiKey.DoesNotExist):
        services.api_key_revoke(
            api_key_id=new.api_key.pk, user=other_customer.user, actor=other_customer.user
        )
    assert ApiKey.objects.get().revoked_at is None


def test_an_expired_key_is_refused(client, customer):
    new = new_key(customer.user, expires_at=timezone.now() + timedelta(hours=1))
    assert client.get(ME, **bearer(new.token)).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert client.get(ME, **bearer(new.token)).status_code == 401


def test_a_key_of_a_blocked_user_is_refused(client, customer):
    new = new_key(customer.user)
    customer.user.is_active = False
    customer.user.save()
    assert client.get(ME, **bearer(new.token)).status_code == 401


def test_the_allow_list_is_enforced(client, customer):
    new = new_key(customer.user, allowed_ips=["198.51.100.0/24"])
    assert client.get(ME, REMOTE_ADDR="203.0.113.5", **bearer(new.token)).status_code == 401
    assert client.get(ME, REMOTE_ADDR="198.51.100.77", **bearer(new.token)).status_code == 200


def test_use_is_recorded_at_most_once_a_minute(client, customer, django_assert_num_queries):
    new = new_key(customer.user)
    client.get(ME, REMOTE_ADDR="203.0.113.5", **bearer(new.token))
    first = ApiKey.objects.get()
    assert first.last_used_ip == "203.0.113.5"
    assert first.last_used_at is not None
    # within the minute, from the same address: not written again
    client.get(ME, REMOTE_ADDR="203.0.113.5", **bearer(new.token))
    assert ApiKey.objects.get().last_used_at == first.last_used_at
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        client.get(ME, REMOTE_ADDR="203.0.113.5", **bearer(new.token))
    assert ApiKey.objects.get().last_used_at > first.last_used_at


def test_a_key_request_needs_no_csrf_token_but_a_session_post_does(customer, issued_invoice):
    url = f"/api/v1/invoices/{issued_invoice.pk}/pay-with-credit/"
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(customer.user)
    response = browser.post(url, HTTP_IDEMPOTENCY_KEY="k1")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    machine = Client(enforce_csrf_checks=True)
    new = new_key(customer.user, scopes=["billing"])
    response = machine.post(url, HTTP_IDEMPOTENCY_KEY="k1", **bearer(new.token))
    assert response.status_code == 400  # no credit: a refusal of the service, not CSRF
    assert response.json()["code"] == "insufficient_credit"


def test_the_session_still_authenticates_the_browser(client, customer):
    client.force_login(customer.user)
    assert client.get(ME).status_code == 200


# --- the client area ------------------------------------------------------------------------


def test_a_customer_makes_a_key_and_sees_it_once(client, customer):
    client.force_login(customer.user)
    response = client.post(
        reverse("accounts:api_key_create"),
        {"name": "Backup script", "scopes": ["read", "billing"], "allowed_ips": "192.0.2.1"},
    )
    assert response.status_code == 302
    page = client.get(reverse("accounts:api_key_list")).content.decode()
    api_key = ApiKey.objects.get()
    assert api_key.user == customer.user
    assert api_key.scopes == ["read", "billing"]
    assert api_key.allowed_ips == ["192.0.2.1/32"]
    assert f"bpk_{api_key.prefix}_" in page
    assert "not shown again" in page
    assert "not shown again" not in client.get(reverse("accounts:api_key_list")).content.decode()


def test_a_customer_cannot_pick_a_staff_scope(client, customer):
    client.force_login(customer.user)
    response = client.post(
        reverse("accounts:api_key_create"), {"name": "X", "scopes": ["staff:billing"]}
    )
    assert response.status_code == 400
    assert not ApiKey.objects.exists()


def test_valid_until_sets_the_expiry_at_the_end_of_that_day(client, customer):
    client.force_login(customer.user)
    day = timezone.now().date() + timedelta(days=30)
    client.post(
        reverse("accounts:api_key_create"),
        {"name": "X", "scopes": ["read"], "valid_until": day.isoformat()},
    )
    expires = ApiKey.objects.get().expires_at
    assert expires.date() == day + timedelta(days=1)
    assert (expires.hour, expires.minute) == (0, 0)


@pytest.mark.parametrize("valid_until", ["2001-01-01", "9999-12-31", "not a date"])
def test_a_bad_expiry_day_is_refused(client, customer, valid_until):
    client.force_login(customer.user)
    response = client.post(
        reverse("accounts:api_key_create"),
        {"name": "X", "scopes": ["read"], "valid_until": valid_until},
    )
    assert response.status_code == 400
    assert not ApiKey.objects.exists()


def test_revoking_asks_first_then_revokes(client, customer):
    new = new_key(customer.user)
    client.force_login(customer.user)
    url = reverse("accounts:api_key_revoke", args=[new.api_key.pk])
    confirm = client.get(url)
    assert "cannot be undone" in confirm.content.decode()
    assert ApiKey.objects.get().revoked_at is None
    assert client.post(url).status_code == 302
    assert ApiKey.objects.get().revoked_at is not None


def test_the_key_pages_are_each_users_own(client, customer, other_customer):
    new = new_key(customer.user, name="Mine")
    client.force_login(other_customer.user)
    assert "Mine" not in client.get(reverse("accounts:api_key_list")).content.decode()
    url = reverse("accounts:api_key_revoke", args=[new.api_key.pk])
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    assert ApiKey.objects.get().revoked_at is None
    client.force_login(customer.user)
    assert client.get(url).status_code == 200


def test_the_key_pages_need_a_login(client):
    response = client.get(reverse("accounts:api_key_list"))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


# --- the admin ------------------------------------------------------------------------------


def test_staff_make_a_key_for_a_customer_in_the_admin(staff_client):
    target = CustomerFactory()
    response = staff_client.post(
        reverse("admin:accounts_apikey_add"),
        {"email": target.user.email, "name": "Integration", "scopes": ["read"]},
    )
    assert response.status_code == 200
    api_key = ApiKey.objects.get()
    assert f"bpk_{api_key.prefix}_" in response.content.decode()
    assert api_key.user == target.user
    assert AuditEvent.objects.get(action="api_key.created").customer == target
    # the whole key is never shown again
    page = staff_client.get(reverse("admin:accounts_apikey_change", args=[api_key.pk]))
    assert api_key.secret_hash not in page.content.decode()


def test_staff_cannot_give_a_customer_a_staff_scope(staff_client):
    target = CustomerFactory()
    response = staff_client.post(
        reverse("admin:accounts_apikey_add"),
        {"email": target.user.email, "name": "Integration", "scopes": ["staff:read"]},
    )
    assert "cannot have the scope" in response.content.decode()
    assert not ApiKey.objects.exists()


def test_making_a_key_in_the_admin_needs_the_add_permission(staff_client_factory):
    target = CustomerFactory()
    client = staff_client_factory("view_apikey")
    response = client.post(
        reverse("admin:accounts_apikey_add"),
        {"email": target.user.email, "name": "Integration", "scopes": ["read"]},
    )
    assert response.status_code == 403
    assert not ApiKey.objects.exists()


@pytest.mark.real_second_factor
def test_a_staff_session_without_its_second_factor_is_refused_in_the_error_shape(client):
    client.force_login(UserFactory(is_staff=True))
    response = client.get(ME)
    assert response.status_code == 403
    body = response.json()
    assert (body["type"], body["code"]) == ("client_error", "second_factor_required")
    assert set(body) == {"type", "code", "detail", "errors"}
