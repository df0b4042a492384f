"""Error pages (400, 403, 404, 500) are the portal's own, in its layout and brand; the 500
page renders on its own, without context processors or the database."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.views.dashboard import DashboardView

pytestmark = pytest.mark.django_db

CASES = [
    (SuspiciousOperation("bad input"), 400, "This request could not be understood"),
    (PermissionDenied(), 403, "You do not have access to this page"),
    (Http404("nothing here"), 404, "Page not found"),
    (RuntimeError("a bug"), 500, "Something went wrong on our side"),
]


@pytest.mark.parametrize(("error", "status", "heading"), CASES)
def test_error_pages_are_branded(client, customer, monkeypatch, settings, error, status, heading):
    settings.PORTAL_NAME = "Acme Hosting"

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(DashboardView, "get_context_data", fail)
    client.raise_request_exception = False
    client.force_login(customer.user)
    response = client.get(reverse("dashboard"))
    html = response.content.decode()
    assert response.status_code == status
    assert heading in html
    assert "Acme Hosting" in html  # the brand, in the page's navbar
    assert "/static/bootstrap/css/bootstrap.min.css" in html  # the portal's styles
    assert 'data-testid="error-page"' in html
    assert f'href="{reverse("dashboard")}"' in html  # a way back


def test_an_unknown_address_answers_the_branded_404(client, customer):
    client.force_login(customer.user)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()
    assert 'data-testid="current-user"' in response.content.decode()  # in the portal layout


def test_the_500_page_needs_no_request_context_and_no_database():
    from django.template.loader import get_template

    with CaptureQueriesContext(connection) as queries:
        html = get_template("500.html").render()  # as Django's server_error renders it
    assert "Something went wrong on our side" in html
    assert len(queries) == 0


def test_a_disallowed_host_answers_the_branded_400(client, settings):
    settings.PORTAL_NAME = "Acme Hosting"
    client.raise_request_exception = False
    response = client.get("/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert "This request could not be understood" in response.content.decode()
    assert "Acme Hosting" in response.content.decode()
