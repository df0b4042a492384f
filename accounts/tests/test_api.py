"""The account API and the API schema/docs endpoints."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db


def test_me_requires_authentication(client):
    # 401 with a Bearer challenge: the API takes API keys (accounts/api/authentication.py).
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_me_returns_the_callers_profile(client, customer):
    client.force_login(customer.user)
    response = client.get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json() == {
        "email": customer.user.email,
        "email_verified": True,
        "name": customer.name,
        "company": customer.company,
        "country": "DE",
        "preferred_currency": "USD",
    }


def test_schema_and_docs_are_served_without_a_cdn(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/me/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert re.findall(r'(?:src|href)="(https?://[^"]+)"', html) == []
