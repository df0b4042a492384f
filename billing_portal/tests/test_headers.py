"""Security headers: pages for a signed-in user are never stored by caches."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _directives(value: str) -> set[str]:
    return {part.strip() for part in value.split(",")}


def test_signed_in_pages_are_private_and_never_stored(client, customer):
    client.force_login(customer.user)
    for url in (reverse("dashboard"), reverse("invoices:invoice_list")):
        response = client.get(url)
        assert response.status_code == 200
        assert {"private", "no-store"} <= _directives(response["Cache-Control"])


def test_redirects_and_errors_for_a_signed_in_user_are_not_stored_either(client, customer):
    client.force_login(customer.user)
    for url, status in ((reverse("accounts:login"), 302), ("/invoices/999999/", 404)):
        response = client.get(url)
        assert response.status_code == status
        assert {"private", "no-store"} <= _directives(response["Cache-Control"])


def test_admin_pages_are_private_and_never_stored(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert {"private", "no-store"} <= _directives(response["Cache-Control"])


def test_anonymous_pages_are_not_marked_private(client, db):
    response = client.get(reverse("accounts:register"))
    assert response.status_code == 200
    assert "private" not in response.get("Cache-Control", "")


def test_static_files_stay_cacheable_for_a_signed_in_user(settings, customer):
    # WhiteNoise serves static files before the session is read, so they keep their own
    # caching headers whoever asks.
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    browser = Client()
    browser.force_login(customer.user)
    response = browser.get("/static/css/portal.css")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")
    assert "private" not in response.get("Cache-Control", "")
