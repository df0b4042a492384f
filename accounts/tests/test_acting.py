"""Staff acting as a customer (accounts/acting.py): who may start it, the banner and stopping,
the audit events, and every view that refuses while acting (NotWhileActingMixin), walked."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.acting import may_act_as
from accounts.mixins import NotWhileActingMixin
from accounts.models import User
from accounts.tests.factories import CustomerFactory, UserFactory
from accounts.tests.helpers import role_member, staff_user
from billing_portal.common.models import AuditEvent
from billing_portal.common.testing import usd
from billing_portal.tests.test_admin_permissions import _snapshot
from credits.services import credit_entry_append

pytestmark = pytest.mark.django_db

REFUSED = "Staff acting as a customer cannot"


def act_as_url(customer) -> str:
    return reverse("admin:accounts_customer_act_as", args=[customer.pk])


def acting_client(customer, staff: User | None = None) -> Client:
    client = Client()
    client.force_login(staff or role_member("Support"))
    response = client.post(act_as_url(customer))
    assert response.status_code == 302, response.content[:500]
    return client


# --- starting and stopping ------------------------------------------------------------------


def test_support_acts_as_a_customer_sees_the_banner_and_stops(customer):
    # given
    staff = role_member("Support")
    client = Client()
    client.force_login(staff)
    # when
    started = client.post(act_as_url(customer))
    # then: the client area, as the customer, with the banner on every page
    assert started.url == reverse("dashboard")
    for page in ("dashboard", "invoices:invoice_list", "accounts:profile"):
        html = client.get(reverse(page)).content.decode()
        assert 'data-testid="acting-banner"' in html
        assert customer.user.email in html
        assert staff.email in html
        assert reverse("accounts:stop_acting") in html
    assert int(client.session["_auth_user_id"]) == customer.user.pk
    started_event = AuditEvent.objects.get(action="account.acting_started")
    assert (started_event.actor, started_event.customer) == (staff, customer)
    # when
    stopped = client.post(reverse("accounts:stop_acting"))
    # then: back on the customer's admin page, still past the second factor
    admin_page = reverse("admin:accounts_customer_change", args=[customer.pk])
    assert stopped.url == admin_page
    assert client.get(admin_page).status_code == 200
    assert 'data-testid="acting-banner"' not in client.get(reverse("dashboard")).content.decode()
    ended = AuditEvent.objects.get(action="account.acting_ended")
    assert (ended.actor, ended.customer) == (staff, customer)
    # the switches are not logins of either user (the one login is the staff's own)
    logins = AuditEvent.objects.filter(action="account.login")
    assert [event.actor for event in logins] == [staff]


def test_logging_out_while_acting_ends_it_in_the_audit_log(customer):
    staff = role_member("Administrator")
    client = acting_client(customer, staff)
    client.post(reverse("accounts:logout"))
    ended = AuditEvent.objects.get(action="account.acting_ended")
    assert (ended.actor, ended.customer) == (staff, customer)
    assert not AuditEvent.objects.filter(action="account.logout").exists()


@pytest.mark.parametrize("role", ["Billing", "Technical"])
def test_roles_without_the_permission_cannot_act(customer, role):
    client = Client()
    client.force_login(role_member(role))
    assert client.post(act_as_url(customer)).status_code == 403
    assert client.get(reverse("dashboard")).status_code in (200, 302)
    assert "_auth_user_id" in client.session
    assert int(client.session["_auth_user_id"]) != customer.user.pk
    assert not AuditEvent.objects.filter(action="account.acting_started").exists()


@pytest.mark.parametrize(
    "target",
    [
        pytest.param({"is_staff": True}, id="staff"),
        pytest.param({"is_superuser": True, "is_staff": True}, id="superuser"),
        pytest.param({"is_active": False}, id="inactive"),
    ],
)
def test_staff_and_superusers_are_never_acted_as(target):
    customer = CustomerFactory(user=UserFactory(**target))
    client = Client()
    client.force_login(staff_user(superuser=True))
    assert client.post(act_as_url(customer)).status_code == 403
    assert not AuditEvent.objects.filter(action="account.acting_started").exists()


def test_acting_needs_a_verified_staff_session(customer):
    staff = role_member("Support")
    staff.is_verified = lambda: False  # what django-otp says of a session without its factor
    assert not may_act_as(hijacker=staff, hijacked=customer.user)
    staff.is_verified = lambda: True
    assert may_act_as(hijacker=staff, hijacked=customer.user)


def test_an_unknown_customer_is_404_and_get_is_not_allowed(customer):
    client = Client()
    client.force_login(role_member("Support"))
    assert client.post(reverse("admin:accounts_customer_act_as", args=[10**9])).status_code == 404
    assert client.get(act_as_url(customer)).status_code == 405


def test_stop_acting_outside_acting_is_refused(customer):
    client = Client()
    client.force_login(customer.user)
    assert client.post(reverse("accounts:stop_acting")).status_code == 403


def test_the_customer_admin_offers_the_button_only_to_who_may_act(customer):
    page = reverse("admin:accounts_customer_change", args=[customer.pk])
    button = 'data-testid="act-as-customer"'
    support, billing = Client(), Client()
    support.force_login(role_member("Support"))
    billing.force_login(role_member("Billing"))
    assert button in support.get(page).content.decode()
    assert button not in billing.get(page).content.decode()
    staff_customer = CustomerFactory(user=UserFactory(is_staff=True))
    staff_page = support.get(reverse("admin:accounts_customer_change", args=[staff_customer.pk]))
    assert button not in staff_page.content.decode()
    assert "Cannot act as this customer" in staff_page.content.decode()


# --- what acting cannot do: every view with NotWhileActingMixin, walked -------------------


def _guarded_views() -> dict[str, tuple[str, ...]]:
    """URL name -> the methods its view refuses while acting (() is every method)."""

    def walk(patterns, namespace: str = "") -> Iterator[tuple[str, type]]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                yield from walk(pattern.url_patterns, inner)
            elif isinstance(pattern, URLPattern) and pattern.name:
                view_class = getattr(pattern.callback, "view_class", None)
                if view_class is not None:
                    yield f"{namespace}{pattern.name}", view_class

    return {
        name: view.acting_refused_methods
        for name, view in walk(get_resolver().url_patterns)
        if issubclass(view, NotWhileActingMixin)
    }


def _pk(attribute: str, kwarg: str = "pk") -> Callable[[SimpleNamespace], dict]:
    return lambda w: {kwarg: getattr(w, attribute).pk}


EVERY = ("get", "post")
# URL name -> (methods tried, path kwargs, data): what acting must not do (the issue's list:
# pay, add credit or tokens, change the second factor, password, email or API keys; also
# ordering, plan changes and saved cards, which move money or the means to).
GUARDED: dict[str, tuple[tuple[str, ...], Callable[[SimpleNamespace], dict], dict]] = {
    "accounts:password_change": (
        EVERY,
        lambda w: {},
        {"old_password": "x", "new_password1": "a-New-pass-42", "new_password2": "a-New-pass-42"},
    ),
    "accounts:reauth": (EVERY, lambda w: {}, {"password": "x", "code": "123456"}),
    "accounts:api_key_create": (("post",), lambda w: {}, {"name": "Acting", "scopes": ["read"]}),
    "accounts:api_key_revoke": (("post",), lambda w: {"pk": 1}, {}),
    "accounts:email_change": (EVERY, lambda w: {}, {"new_email": "acting@example.test"}),
    "accounts:email_change_confirm": (EVERY, lambda w: {"token": "not-a-link"}, {}),
    "accounts:totp_enrol": (EVERY, lambda w: {}, {"code": "123456"}),
    "accounts:totp_remove": (("post",), lambda w: {}, {}),
    "accounts:passkey_register_options": (("post",), lambda w: {}, {}),
    "accounts:passkey_register": (("post",), lambda w: {}, {}),
    "accounts:passkey_remove": (("post",), lambda w: {"pk": 1}, {}),
    "accounts:recovery_codes_regenerate": (("post",), lambda w: {}, {}),
    "accounts:second_factor_disable": (("post",), lambda w: {}, {}),
    "provisioning:service_change": (("post",), lambda w: {"pk": 1}, {"product": "1"}),
    "orders:product": (("post",), lambda w: {"slug": "any"}, {"place": "1"}),
    "credits:buy_credit": (EVERY, lambda w: {}, {"amount": "10", "gateway": "manual"}),
    "credits:buy_tokens": (EVERY, lambda w: {}, {"amount": "10", "gateway": "manual"}),
    "credits:pay_invoice": (EVERY, _pk("invoice"), {"nonce": "n1"}),
    "payments:checkout_begin": (EVERY, lambda w: {"pk": w.invoice.pk, "gateway": "stripe"}, {}),
    "payments:saved_card_pay": (EVERY, lambda w: {"pk": w.invoice.pk, "method_id": 1}, {}),
    "payments:subscription_begin": (EVERY, lambda w: {"service_id": 1}, {}),
    "payments:card_add": (EVERY, lambda w: {}, {}),
    "payments:card_remove": (EVERY, lambda w: {"pk": 1}, {}),
    "payments:card_default": (EVERY, lambda w: {"pk": 1}, {}),
    "dns:plan_confirm": (("post",), lambda w: {"pk": 1}, {"confirm": "1"}),
}
REQUIRED = {  # the issue's own list: these must stay guarded whatever else changes
    "accounts:password_change",
    "accounts:email_change",
    "accounts:totp_enrol",
    "accounts:totp_remove",
    "accounts:passkey_register",
    "accounts:passkey_remove",
    "accounts:recovery_codes_regenerate",
    "accounts:second_factor_disable",
    "credits:buy_credit",
    "credits:buy_tokens",
    "credits:pay_invoice",
    "payments:checkout_begin",
    "payments:saved_card_pay",
    "orders:product",
}


def test_every_guarded_view_is_walked_and_the_issues_list_is_guarded():
    guarded = _guarded_views()
    assert set(guarded) == set(GUARDED), "add the view's URL to GUARDED (or remove it)"
    assert set(guarded) >= REQUIRED
    for name, (methods, _, _) in GUARDED.items():
        refused = guarded[name]
        assert all(not refused or m.upper() in refused for m in methods), name


@pytest.fixture
def world(customer, invoice_factory) -> SimpleNamespace:
    # An unpaid invoice the customer's credit would pay: refusing is what keeps it unpaid.
    invoice = invoice_factory(customer, "20.00")
    credit_entry_append(customer=customer, amount=usd("50"), kind="admin_add", idempotency_key="w")
    return SimpleNamespace(customer=customer, invoice=invoice)


def test_acting_cannot_pay_add_credit_or_change_credentials(world):
    client = acting_client(world.customer)
    failures = []
    for name, (methods, kwargs, data) in GUARDED.items():
        url = reverse(name, kwargs=kwargs(world))
        for method in methods:
            before = _snapshot()
            response = getattr(client, method)(url, data, HTTP_REFERER="http://testserver/")
            shown = [str(m) for m in get_messages(response.wsgi_request)]
            if response.status_code != 302 or not any(REFUSED in m for m in shown):
                failures.append(f"{method.upper()} {name}: {response.status_code} {shown}")
            if _snapshot() != before:
                failures.append(f"{method.upper()} {name} changed the database")
    assert not failures, "\n".join(failures)
    world.invoice.refresh_from_db()
    assert world.invoice.status == "unpaid"
    assert world.customer.credit_accounts.get().balance.amount == Decimal("50")


def test_json_and_htmx_callers_get_the_refusal_in_their_form(world):
    client = acting_client(world.customer)
    url = reverse("accounts:passkey_register_options")
    as_json = client.post(url, HTTP_ACCEPT="application/json")
    assert as_json.status_code == 403
    assert REFUSED in as_json.json()["detail"]
    htmx = client.post(reverse("credits:buy_credit"), {"amount": "5"}, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 204
    assert htmx["HX-Redirect"] == reverse("credits:overview")


def test_the_customer_themselves_are_not_refused(world, client):
    client.force_login(world.customer.user)
    response = client.post(reverse("credits:pay_invoice", args=[world.invoice.pk]), {"nonce": "n"})
    assert not any(REFUSED in str(m) for m in get_messages(response.wsgi_request))
    world.invoice.refresh_from_db()
    assert world.invoice.status == "paid"


# --- the API through the acting session --------------------------------------------------------


def test_the_api_through_an_acting_session_reads_but_changes_nothing(customer, invoice_factory):
    # given: credit and an unpaid invoice, and staff acting as the customer
    credit_entry_append(customer=customer, amount=usd("50"), kind="admin_add", idempotency_key="g")
    invoice = invoice_factory(customer, "20")
    client = acting_client(customer)
    # when: a read, then a payment through the session
    read = client.get("/api/v1/invoices/")
    before = _snapshot()
    paid = client.post(
        f"/api/v1/invoices/{invoice.pk}/pay-with-credit/",
        HTTP_IDEMPOTENCY_KEY="acting",
        HTTP_X_CSRFTOKEN=client.cookies.get("csrftoken", ""),
    )
    # then
    assert read.status_code == 200
    assert paid.status_code == 403
    assert paid.json()["code"] == "not_while_acting"
    assert _snapshot() == before
