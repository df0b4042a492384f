"""Project-wide pytest wiring: fast hashers, shared fixtures, and skips with reasons for
tests that need PostgreSQL, a Redis broker or Chromium."""

from __future__ import annotations

import os
import shutil
import uuid

import pytest
import responses
from celery._state import _set_task_join_will_block
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from accounts.tests.factories import CustomerFactory, UserFactory
from accounts.tests.helpers import logged_in, staff_user
from billing import services as billing_services
from billing_portal.common.testing import money
from invoices import services as invoice_services

pytest_plugins = ["billing_portal.common.browser", "billing_portal.common.socket_guard"]

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    vendor = connection.vendor
    for item in items:
        if "postgres" in item.keywords and vendor != "postgresql":
            item.add_marker(pytest.mark.skip(reason=f"needs PostgreSQL; running on {vendor}"))
        if "redis" in item.keywords and not settings.REDIS_URL:
            item.add_marker(pytest.mark.skip(reason="needs a Redis broker; REDIS_URL is not set"))
        # In CI the browser tests must run, so a missing Chromium fails them instead.
        if "browser" in item.keywords and not IN_CI and not shutil.which(CHROMIUM):
            item.add_marker(pytest.mark.skip(reason=f"Chromium not found at {CHROMIUM}"))


@pytest.fixture(autouse=True, scope="session")
def _lock_order_checked() -> None:
    # Every test checks the lock order as it locks rows (DEBUG is off in tests).
    settings.LOCK_ORDER_CHECKS = True


@pytest.fixture(autouse=True)
def _celery_join_flag_reset() -> None:
    # Eager tasks save and restore a process-wide "joining would block" flag around each
    # run; eager tasks in concurrent live-server threads interleave those restores and can
    # leave it set, which would make a later test's result.get() refuse to wait.
    _set_task_join_will_block(False)


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _support_attachments_in_tmp(settings, tmp_path) -> None:
    # Ticket attachments a test stores go to its own directory, not the checkout's private/.
    settings.STORAGES = {
        **settings.STORAGES,
        "support_attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "support", "base_url": None},
        },
    }


@pytest.fixture(autouse=True)
def _throttle_counters_per_test(settings) -> None:
    # Each test counts throttled requests under keys of its own, so no test inherits another's
    # counts. Clearing the cache instead would flush the Redis database the Celery broker of
    # the Redis tests shares; these keys expire by themselves.
    settings.RATELIMIT_CACHE_PREFIX = f"rl:{uuid.uuid4().hex}:"


@pytest.fixture(autouse=True)
def _session_seen_on_force_login(monkeypatch) -> None:
    """A login request writes the session's row and clock (accounts.middleware); a
    `force_login` does the same here, so the first page a test opens is not the one that
    also does the once-a-minute bookkeeping."""
    from django.test import Client

    original = Client.force_login

    def force_login(self, user, backend=None):
        original(self, user, backend)
        from accounts.tests.helpers import session_seen

        session_seen(self, user)

    monkeypatch.setattr(Client, "force_login", force_login)


@pytest.fixture(autouse=True)
def _staff_second_factor_on_force_login(request, monkeypatch) -> None:
    """Staff must pass a second factor before any admin page (accounts.middleware). Tests that
    `force_login` a staff user are about something else, so their session is made verified by
    a TOTP device created on the spot. Tests of the gate itself opt out with
    `@pytest.mark.real_second_factor`; logins through the login form are never helped."""
    if request.node.get_closest_marker("real_second_factor"):
        return
    from django.test import Client

    original = Client.force_login

    def force_login(self, user, backend=None):
        original(self, user, backend)
        if user.is_staff:
            from accounts.tests.second_factor import verify_session

            verify_session(self, user)

    monkeypatch.setattr(Client, "force_login", force_login)


@pytest.fixture
def customer(db):
    """A verified customer whose password is `factories.PASSWORD`."""
    return CustomerFactory()


@pytest.fixture
def other_customer(db):
    return CustomerFactory()


@pytest.fixture
def invoice_factory():
    """Issues invoices as the portal does, through billing's `invoice_issue` (so credit
    applies itself after the commit and a zero total is settled at once):
    `invoice_factory(customer, "49.99", "EUR")` is one manual line of that amount, `lines=3`
    three of them, each described `description.format(n=<line number>)`; without a customer,
    a new one. The factory lives here, above every app, so that any app's tests may use it by
    name without importing billing."""

    def issue(
        customer=None,
        amount: str = "100.00",
        currency: str = "USD",
        *,
        lines: int = 1,
        description: str = "Work",
    ):
        drafts = [
            invoice_services.LineDraft(
                kind="manual",
                description=description.format(n=n),
                unit_price=money(amount, currency),
            )
            for n in range(lines)
        ]
        draft = invoice_services.invoice_create_draft(
            customer=customer or CustomerFactory(), currency=currency, lines=drafts
        )
        return billing_services.invoice_issue(invoice_id=draft.pk)

    return issue


@pytest.fixture
def issued_invoice(customer, invoice_factory):
    """An issued invoice of `customer`: one line of 100.00 USD."""
    return invoice_factory(customer)


@pytest.fixture
def staff_client(client):
    """The test client logged in as staff with every right (a superuser)."""
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def staff_client_factory(db):
    """Clients of their own, each logged in as a new staff member with only the permissions
    named: `staff_client_factory("change_credit", "view_customer")`."""

    def make(*codenames: str, superuser: bool = False):
        return logged_in(staff_user(*codenames, superuser=superuser))

    return make


@pytest.fixture
def staff_alerts(settings):
    """Staff alerts (mail_admins) go to ops@example.com."""
    settings.ADMINS = [("Staff", "ops@example.com")]
    return settings


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    # Expose each phase's report on the item so fixtures can react to failures
    # (the browser fixture saves a screenshot).
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def stripe_settings(settings):
    """Stripe configured with test keys (its webhook secret signs the test deliveries)."""
    from payments.tests import stripe_events

    settings.STRIPE_SECRET_KEY = "sk_test_dummy"  # noqa: S105 (a test key)
    settings.STRIPE_WEBHOOK_SECRET = stripe_events.SECRET
    return settings


@pytest.fixture
def paypal_settings(settings):
    """PayPal configured for its sandbox with test credentials and webhook id, and no cached
    access token before or after (each test mocks the token call it needs)."""
    from django.core.cache import cache

    from payments.gateways.registry import checkout_gateway

    settings.PAYPAL_CLIENT_ID = "client-id"
    settings.PAYPAL_CLIENT_SECRET = "client-secret"  # noqa: S105 (a test secret)
    settings.PAYPAL_WEBHOOK_ID = "WH-ID-1"
    settings.PAYPAL_MODE = "sandbox"
    token_key = checkout_gateway("paypal").token_key
    cache.delete(token_key)
    yield settings
    cache.delete(token_key)


@pytest.fixture
def virtfusion_settings(settings):
    """VirtFusion configured: its API at VIRTFUSION_API (each test mocks the calls it
    expects) with the token "vf-token"."""
    settings.VIRTFUSION_URL = "https://cp.example.test"
    settings.VIRTFUSION_API_TOKEN = "vf-token"  # noqa: S105 (a test token)
    return settings


@pytest.fixture
def virtfusion(virtfusion_settings, staff_alerts):
    """VirtFusion configured, staff alerts to ops@example.com, and no cached token balance
    before or after (the token purchase tests of credits and billing)."""
    cache.clear()
    yield virtfusion_settings
    cache.clear()


@pytest.fixture
def mocked():
    """External HTTP APIs (gateways, panels) mocked with `responses`, strictly: a call that is
    not registered fails (ConnectionError), and so does a registered call the test never made,
    so a test cannot pass while the code skipped the request it expects."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps
