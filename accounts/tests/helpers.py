"""Test helpers about customers, for every app's tests (the kernel's test helpers know no
customers: billing_portal/common/testing.py)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.test import Client

from accounts.models import Customer, User
from accounts.roles import roles_sync
from accounts.tests.factories import UserFactory


def assert_customer_isolation(
    client: Client,
    *,
    urls: Iterable[str],
    owner: Customer,
    intruder: Customer,
    method: str = "get",
    data: dict[str, Any] | None = None,
    owner_statuses: Iterable[int] = (200, 302),
) -> None:
    """Prove that customer-owned URLs answer 404 to any other customer.

    For each URL the intruder (logged in as another customer) must get 404, and must get it
    before the owner is tried, so a write by the intruder cannot succeed unnoticed; then the
    owner must get one of `owner_statuses`, which proves the URL is real and the 404 is
    about ownership, not a broken route.
    """
    for url in urls:
        client.force_login(intruder.user)
        response = getattr(client, method)(url, data or {})
        assert response.status_code == 404, (
            f"{method.upper()} {url} by another customer gave {response.status_code}, not 404"
        )
        client.force_login(owner.user)
        response = getattr(client, method)(url, data or {})
        assert response.status_code in tuple(owner_statuses), (
            f"{method.upper()} {url} by its owner gave {response.status_code}"
        )
    client.logout()


def staff_user(*codenames: str, superuser: bool = False) -> User:
    """A new staff member holding the permissions named by `codenames` (every one with
    `superuser=True`), read again so no permission set is cached on it."""
    user = UserFactory(is_staff=True, is_superuser=superuser)
    if codenames:
        user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return User.objects.get(pk=user.pk)


def logged_in(user: User) -> Client:
    """A client of its own, logged in as `user`."""
    client = Client()
    client.force_login(user)
    return client


def role_member(role: str) -> User:
    """A new staff member in the role group `role` (accounts/roles.py), read again so no
    permission set is cached on it. The groups come from the migration; a transactional
    test's flush removes them, so they are synced again then."""
    if not Group.objects.filter(name=role).exists():
        roles_sync(group_model=Group, permission_model=Permission)
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return User.objects.get(pk=user.pk)
