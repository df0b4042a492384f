"""Test helpers about customers, for every app's tests (the kernel's test helpers know no
customers: billing_portal/common/testing.py)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from accounts import session_keys as keys
from accounts.models import Customer, User
from accounts.roles import roles_sync
from accounts.tests.factories import UserFactory
from accounts.user_sessions import session_seconds_left, user_session_seen
from billing_portal.common.request import RequestMeta


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


def session_seen(client: Client, user: User) -> None:
    """Write the session's clock and its row as the login request would have (accounts.
    middleware), so a test's first page costs what any page costs, not the bookkeeping a
    session does once a minute."""
    session, now = client.session, time.time()
    left = session_seconds_left(staff=user.is_staff, started_at=now, now=now)
    session[keys.SESSION_RECORD] = user_session_seen(
        user=user,
        session_key=session.session_key,
        record_id=None,
        started_at=now,
        seconds_left=left,
        meta=RequestMeta(),
    )
    session[keys.SESSION_STARTED] = session[keys.SESSION_SEEN] = now
    session[keys.SESSION_RECORD_KEY] = session.session_key
    session.set_expiry(left)
    session.save()


def password_reset_through_the_email(
    client: Client, *, email: str, new_password: str, mailoutbox: list, capture: Any
):
    """Ask for a reset, follow the emailed link and set `new_password`; the last response."""
    with capture(execute=True):
        client.post(reverse("accounts:password_reset"), {"email": email})
    body = mailoutbox[-1].body
    link = re.search(r"https?://\S+/accounts/password/reset/\S+/", body).group(0)
    form = client.get(link, follow=True)
    with capture(execute=True):
        return client.post(
            form.redirect_chain[-1][0],
            {"new_password1": new_password, "new_password2": new_password},
        )


def role_member(role: str) -> User:
    """A new staff member in the role group `role` (accounts/roles.py), read again so no
    permission set is cached on it. The groups come from the migration; a transactional
    test's flush removes them, so they are synced again then."""
    if not Group.objects.filter(name=role).exists():
        roles_sync(group_model=Group, permission_model=Permission)
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return User.objects.get(pk=user.pk)
