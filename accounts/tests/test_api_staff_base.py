"""The staff API base (accounts/api/staff.py): a staff scope on the key and the role's
permissions per method; a customer's key, the browser session and a role without the
permission all get 403, and a method with no permission named is refused."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import override_settings
from django.urls import path
from rest_framework.response import Response
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.api.staff import StaffApi
from accounts.models import ApiKey
from accounts.tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


class Probe(StaffApi):
    required_scope = ApiKey.Scope.STAFF_READ
    required_permissions = {"GET": ("accounts.view_customer",)}

    def get(self, request):
        return Response({"ok": True})

    def post(self, request):  # names no permission: refused
        return Response({"ok": True})


urlpatterns = [path("probe/", Probe.as_view())]


def client_for(user, scopes):
    new = account_services.api_key_create(user=user, name="t", scopes=scopes)
    return APIClient(HTTP_AUTHORIZATION=f"Bearer {new.token}")


@pytest.fixture
def staff():
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_customer"))
    return user


@override_settings(ROOT_URLCONF=__name__)
def test_staff_key_with_scope_and_permission_passes(staff):
    assert client_for(staff, ["staff:read"]).get("/probe/").status_code == 200


@override_settings(ROOT_URLCONF=__name__)
def test_method_without_named_permission_is_refused(staff):
    response = client_for(staff, ["staff:read"]).post("/probe/")
    assert response.status_code == 403


@override_settings(ROOT_URLCONF=__name__)
def test_scope_missing_role_missing_customer_and_session_are_403(staff):
    assert client_for(staff, ["read"]).get("/probe/").status_code == 403
    bare = UserFactory(is_staff=True)
    assert client_for(bare, ["staff:read"]).get("/probe/").status_code == 403
    customer = CustomerFactory()
    assert client_for(customer.user, ["read"]).get("/probe/").status_code == 403
    session = APIClient()
    session.force_login(staff)
    assert session.get("/probe/").status_code == 403


@override_settings(ROOT_URLCONF=__name__)
def test_staff_who_lost_staff_status_is_refused(staff):
    client = client_for(staff, ["staff:read"])
    type(staff).objects.filter(pk=staff.pk).update(is_staff=False)
    assert client.get("/probe/").status_code == 403
