"""Hostile input never answers 500 and changes nothing.

Every client-area form field, query parameter and path id is sent each value of HOSTILE with
the other fields valid, in a state where the form would otherwise succeed (a customer with
credit, an unpaid invoice and order, a saved card, a DNS plan with a zone and a record, an
active service with an add-on, a PayPal subscription). The answer must be below 500, markup
must never come back unescaped, and unless the value is one the field takes (free text, a
flag), nothing may be written: no row of any table is inserted, updated or deleted (counted
by PostgreSQL for the transaction; on SQLite every table's rows are digested), so no invoice,
payment, ledger entry, credit balance or record changes. Each case runs in a savepoint that
is rolled back, so the cases do not see each other's effects.

Complete by construction: every URL of the client area (the resolver walked, less admin, API,
webhooks and health) must have an entry in ENDPOINTS, and every parameter a view reads when it
is sent valid input must be a tested field of that URL: a new form, field or query parameter
without hostile coverage fails this test.
"""

from __future__ import annotations

import copy
import hashlib
import re
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.db import connection, transaction
from django.http import QueryDict
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services as account_services
from accounts.session_keys import REAUTH_AT
from accounts.tests.factories import PASSWORD, AuditEventFactory, CustomerFactory
from billing import services as billing_services
from billing_portal.common.forms import BIDI_CONTROLS
from billing_portal.common.testing import usd
from catalogue.models import ConfigurableOptionPrice
from catalogue.tests.factories import (
    ConfigurableOptionFactory,
    CouponFactory,
    ProductFactory,
    ProductPriceFactory,
)
from credits.services import credit_entry_append
from dnszones import services as dns_services
from dnszones.tests.plans import buy, dns_product
from payments.models import (
    GatewayCustomer,
    GatewayPlan,
    GatewaySubscription,
    PaymentAttempt,
    SavedPaymentMethod,
)
from provisioning.models import ProvisioningOperation, Service, ServiceOption
from provisioning.tests.factories import ServerFactory, placed_product
from support import services as support_services
from support.models import Announcement, Article, ArticleCategory
from support.tests.helpers import department, ticket_for, upload

pytestmark = pytest.mark.django_db

MARKUP = "<script>alert(1)</script>"
HOSTILE = (
    "",
    "   ",
    "x" * 10_000,
    "\x00",
    "\x07\x1b[2J\x7f",
    "line\nbreak",
    "\u202etxt.exe",
    "1e308",
    "99999999999999999999",
    "-1",
    "1.5",
    "\u0661\u0662\u0663",
    "NaN",
    "Infinity",
    MARKUP,
    "' OR 1=1 --",
)
# Ids in paths: the route only takes ASCII digits, so these reach the view; the rest are 404
# at the resolver, which is tried too.
PATH_IDS = ("0", "99999999999999999999", "-1", "\u0661", "1e3")
# Tables a request writes whatever its input: the session (messages that do not fit in a
# cookie are kept there) and the row listing it with its last-seen time (at most once a
# minute, accounts/user_sessions.py).
ALWAYS_WRITTEN = frozenset({"django_session", "accounts_usersession"})
# Failed logins are recorded by design (lockout counting and the customer's activity log).
LOGIN_LOGS = frozenset({"axes_accessattempt", "axes_accessfailurelog", "common_auditevent"})
# Names libraries look up in every request: Django's CSRF token, and the parameters axes
# masks before it logs a failed login.
LIBRARY_READS = frozenset({"csrfmiddlewaretoken", "ip_address"})
# (metrics and system-status are the operators' pages: test_status.py)
NOT_CLIENT_AREA = (
    "admin:",
    "api:",
    "api-schema",
    "api-docs",
    "webhook-",
    "healthz",
    "metrics",
    "system-status",
    "staff-sessions",  # the staff's own sessions, an admin page (accounts/tests/test_sessions.py)
    "reports:",  # the staff reports and exports, admin pages (reports/tests/: hostile input too)
)

Accepts = Callable[[str], bool]


def strict(value: str) -> bool:
    """No hostile value is valid input here."""
    return False


def only(*values: str) -> Accepts:
    return lambda value: value in values


def anything(value: str) -> bool:
    """Every value is valid input (a checkbox, a flag, a redirect target checked for safety)."""
    return True


def text(max_length: int, *, blank: bool = False) -> Accepts:
    """Free text: one line of printable characters, up to `max_length` (spaces alone are
    empty, which `blank` fields take)."""

    def accepts(value: str) -> bool:
        if not value.strip():
            return blank
        return len(value) <= max_length and not any(
            unicodedata.category(c) == "Cc" or c in BIDI_CONTROLS for c in value
        )

    return accepts


def message(value: str) -> bool:
    """A message's text: several lines of printable characters (tabs and line breaks are
    text), up to the message's limit."""
    if not value.strip():
        return False
    return len(value.strip()) <= support_services.BODY_MAX and not any(
        (unicodedata.category(c) == "Cc" and c not in "\n\r\t") or c in BIDI_CONTROLS for c in value
    )


def token(value: str) -> bool:
    """A page's one-time key: any ASCII letters, digits, '-' and '_' are one (or none)."""
    return re.fullmatch(r"[A-Za-z0-9_-]{0,64}", value.strip()) is not None


@dataclass(frozen=True)
class Endpoint:
    """One form (or one action of a form) or page: its URL, the valid input, and for each
    field which hostile values it may take. `path` lists path parameters (string ones) to
    send hostile values in; int ids in the path always get PATH_IDS."""

    name: str
    method: str = "get"
    kwargs: Callable[[SimpleNamespace], dict] = lambda w: {}
    data: Callable[[SimpleNamespace], dict] = lambda w: {}
    fields: Callable[[SimpleNamespace], dict[str, Accepts]] = lambda w: {}
    path: tuple[str, ...] = ()
    anonymous: bool = False
    logs: frozenset[str] = frozenset()
    prepare: Callable[[Client, SimpleNamespace], None] | None = None
    label: str = ""

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.name}{f' ({self.label})' if self.label else ''}"


def _pk(attribute: str, kwarg: str = "pk") -> Callable[[SimpleNamespace], dict]:
    return lambda w: {kwarg: getattr(w, attribute).pk}


def _page(**more: Accepts) -> Callable[[SimpleNamespace], dict]:
    return lambda w: {"page": strict, **more}


PROFILE_TEXT = {
    "name": text(200),
    "company": text(200, blank=True),
    "address_line1": text(200, blank=True),
    "address_line2": text(200, blank=True),
    "city": text(100, blank=True),
    "region": text(100, blank=True),
    "postal_code": text(20, blank=True),
}


def _profile(w: SimpleNamespace) -> dict:
    return {
        "name": "Ada Lovelace",
        "company": "Analytical Ltd",
        "address_line1": "1 Road",
        "address_line2": "",
        "city": "London",
        "region": "",
        "postal_code": "N1",
        "country": "GB",
        "phone": "+442079460958",
        "tax_id": "",
        "preferred_currency": "USD",
        "credit_auto_apply": "on",
    }


def _password_accepted(client: Client, w: SimpleNamespace) -> None:
    """The customer has an authenticator app and their password was just accepted: the code
    prompt is next (rolled back with the case)."""
    TOTPDevice.objects.create(user=w.customer.user, name="App", confirmed=True)
    client.post(
        reverse("accounts:login"), {"username": w.customer.user.email, "password": PASSWORD}
    )


def _reauthenticated(client: Client, w: SimpleNamespace) -> None:
    """The password (and code) were confirmed a moment ago, as the email change needs."""
    session = client.session
    session[REAUTH_AT] = time.time()
    session.save()


def _reset_session(client: Client, w: SimpleNamespace) -> None:
    """The reset link puts its token in the session and sends the browser on."""
    client.get(reverse("accounts:password_reset_confirm", args=[w.uid, w.reset_token]))


ZONE_RECORD = {"name": "www", "type": "A", "ttl": "300", "content": "192.0.2.10"}
# Record names are relative to the zone: "" and "   " are its apex, "1.5" is 1.5.shop.example.
RECORD_FIELDS = {
    "name": only("", "   ", "1.5", "NaN", "Infinity", "1e308", "99999999999999999999"),
    "type": strict,
    "ttl": strict,
    "content": strict,
}

ENDPOINTS: tuple[Endpoint, ...] = (
    # --- accounts (anonymous) ---------------------------------------------------------
    Endpoint("accounts:login", anonymous=True, fields=lambda w: {"next": strict}),
    Endpoint(
        "accounts:login",
        "post",
        anonymous=True,
        logs=LOGIN_LOGS,
        data=lambda w: {"username": w.customer.user.email, "password": "wrong-password"},
        fields=lambda w: {"username": strict, "password": strict, "next": strict},
    ),
    Endpoint("accounts:register", anonymous=True),
    Endpoint(
        "accounts:register",
        "post",
        anonymous=True,
        data=lambda w: {
            "name": "Grace Hopper",
            "company": "",
            "email": "grace@example.com",
            "country": "US",
            "password1": "x-Cobol-1959!",
            "password2": "x-Cobol-1959!",
        },
        fields=lambda w: {
            "name": text(200),
            "company": text(200, blank=True),
            "email": strict,
            "country": strict,
            "password1": strict,
            "password2": strict,
        },
    ),
    Endpoint(
        "accounts:resend_verification",
        "post",
        anonymous=True,
        data=lambda w: {"email": "nobody@example.com"},
        fields=lambda w: {"email": strict},
    ),
    Endpoint(
        "accounts:verify_email",
        anonymous=True,
        path=("uidb64", "token"),
        kwargs=lambda w: {"uidb64": w.uid, "token": "bad-token"},
    ),
    Endpoint(
        "accounts:password_reset",
        "post",
        anonymous=True,
        data=lambda w: {"email": "nobody@example.com"},
        fields=lambda w: {"email": strict},
    ),
    Endpoint("accounts:password_reset_done", anonymous=True),
    Endpoint(
        "accounts:password_reset_confirm",
        anonymous=True,
        path=("uidb64", "token"),
        kwargs=lambda w: {"uidb64": w.uid, "token": w.reset_token},
    ),
    Endpoint(
        "accounts:password_reset_confirm",
        "post",
        anonymous=True,
        prepare=_reset_session,
        kwargs=lambda w: {"uidb64": w.uid, "token": "set-password"},
        data=lambda w: {"new_password1": "x-Cobol-1959!", "new_password2": "x-Cobol-1959!"},
        fields=lambda w: {"new_password1": strict, "new_password2": strict},
        label="new password",
    ),
    Endpoint("accounts:password_reset_complete", anonymous=True),
    # --- accounts (signed in) -----------------------------------------------------------
    Endpoint(
        "accounts:logout",
        "post",
        fields=lambda w: {"next": anything},
        logs=frozenset({"common_auditevent", "axes_accesslog"}),
    ),
    Endpoint(
        "accounts:password_change",
        "post",
        data=lambda w: {
            "old_password": "wrong-password",
            "new_password1": "x-Cobol-1959!",
            "new_password2": "x-Cobol-1959!",
        },
        fields=lambda w: {"old_password": strict, "new_password1": strict, "new_password2": strict},
    ),
    Endpoint(
        "accounts:password_change",
        "post",
        label="right old password",
        data=lambda w: {
            "old_password": PASSWORD,
            "new_password1": "x-Cobol-1959!",
            "new_password2": "x-Cobol-1959!",
        },
        fields=lambda w: {"new_password1": strict, "new_password2": strict},
    ),
    Endpoint(
        "accounts:profile",
        "post",
        data=_profile,
        fields=lambda w: {
            **PROFILE_TEXT,
            "country": strict,
            "phone": only("", "   "),
            "tax_id": text(50, blank=True),
            "preferred_currency": strict,
            "credit_auto_apply": anything,
        },
    ),
    # --- accounts: the second factor (accounts/security_views.py) -------------------------
    Endpoint("accounts:login_code", anonymous=True, fields=lambda w: {"next": strict}),
    Endpoint(
        "accounts:login_code",
        "post",
        anonymous=True,
        prepare=_password_accepted,
        logs=LOGIN_LOGS,
        data=lambda w: {"code": "000000"},
        fields=lambda w: {"code": strict, "next": strict, "username": strict, "password": strict},
        label="after the password",
    ),
    Endpoint("accounts:login_passkey_options", "post", anonymous=True),
    Endpoint(
        "accounts:login_passkey",
        "post",
        anonymous=True,
        prepare=lambda c, w: c.post(reverse("accounts:login_passkey_options")),
        fields=lambda w: {"credential": strict},
    ),
    Endpoint("accounts:security", fields=lambda w: {"next": strict}),
    Endpoint("accounts:reauth", fields=lambda w: {"next": strict}),
    Endpoint(
        "accounts:reauth",
        "post",
        logs=LOGIN_LOGS,
        data=lambda w: {"password": PASSWORD, "code": "000000"},
        fields=lambda w: {"password": strict, "code": strict, "next": strict, "username": strict},
    ),
    Endpoint("accounts:totp_enrol", fields=lambda w: {"next": strict}),
    Endpoint(
        "accounts:totp_enrol",
        "post",
        prepare=lambda c, w: c.get(reverse("accounts:totp_enrol")),
        data=lambda w: {"code": "000000"},
        fields=lambda w: {"code": strict, "next": strict},
    ),
    Endpoint("accounts:totp_remove", "post"),
    Endpoint("accounts:passkey_register_options", "post"),
    Endpoint(
        "accounts:passkey_register",
        "post",
        prepare=lambda c, w: c.post(reverse("accounts:passkey_register_options")),
        fields=lambda w: {"name": strict, "credential": strict},
    ),
    Endpoint("accounts:passkey_remove", "post", kwargs=lambda w: {"pk": 10**6}),
    Endpoint("accounts:recovery_codes_regenerate", "post"),
    Endpoint("accounts:second_factor_disable", "post"),
    # Not acting: refused (403); the acting session's own checks are accounts/tests/test_acting.py.
    Endpoint("accounts:stop_acting", "post"),
    Endpoint("accounts:activity_list", fields=_page()),
    Endpoint("accounts:activity_detail", kwargs=_pk("event")),
    # --- accounts: data rights (accounts/data_views.py) -----------------------------------
    Endpoint("accounts:data_export"),
    Endpoint("accounts:data_export", "post"),
    Endpoint(
        "accounts:data_export_download",
        kwargs=lambda w: {"token": "1:forged:signature"},
        path=("token",),
    ),
    # --- accounts: sessions and the email change ----------------------------------------
    Endpoint("accounts:session_end", "post", kwargs=lambda w: {"pk": 10**6}),
    Endpoint("accounts:sessions_end_others", "post", fields=lambda w: {"next": anything}),
    Endpoint("accounts:email_change", prepare=_reauthenticated),
    Endpoint(
        "accounts:email_change",
        "post",
        prepare=_reauthenticated,
        data=lambda w: {"new_email": w.customer.user.email},  # already theirs: refused
        fields=lambda w: {"new_email": strict},
    ),
    *(
        Endpoint(
            "accounts:email_change_confirm",
            method,
            anonymous=True,
            kwargs=lambda w: {"token": "not-a-signed-link"},
            path=("token",),
        )
        for method in ("get", "post")
    ),
    # --- accounts: API keys (accounts/api_key_views.py) ---------------------------------------
    Endpoint("accounts:api_key_list", fields=_page()),
    Endpoint("accounts:api_key_create"),
    Endpoint(
        "accounts:api_key_create",
        "post",
        data=lambda w: {"name": "Deploy", "scopes": ["read"], "valid_until": "", "allowed_ips": ""},
        fields=lambda w: {
            "name": text(100),
            "scopes": strict,
            "valid_until": only("", "   "),
            "allowed_ips": only("", "   "),
        },
    ),
    Endpoint("accounts:api_key_revoke", kwargs=_pk("api_key")),
    Endpoint("accounts:api_key_revoke", "post", kwargs=_pk("api_key")),
    Endpoint("dashboard"),
    # --- credits --------------------------------------------------------------------
    Endpoint("credits:overview", fields=_page(kind=strict, tab=strict)),
    Endpoint("credits:transactions_csv", fields=lambda w: {"kind": strict}),
    *(
        Endpoint(
            name,
            "post",
            data=lambda w: {"gateway": "stripe", "amount": "10"},
            fields=lambda w: {"gateway": strict, "amount": only("1.5"), "preset": only("", "1.5")},
        )
        for name in ("credits:buy_credit", "credits:buy_tokens")
    ),
    Endpoint("credits:receipt", kwargs=_pk("debit")),
    Endpoint(
        "credits:pay_invoice",
        "post",
        kwargs=_pk("invoice"),
        data=lambda w: {"nonce": "a1b2c3"},
        fields=lambda w: {"nonce": token},
    ),
    # --- DNS -------------------------------------------------------------------------
    Endpoint("dns:zone_list"),
    Endpoint(
        "dns:zone_list",
        "post",
        label="unknown action",
        data=lambda w: {"action": "x"},
        fields=lambda w: {"action": strict},
    ),
    Endpoint("dns:plan_confirm", kwargs=_pk("pro_plan")),
    Endpoint(
        "dns:plan_confirm",
        "post",
        kwargs=_pk("pro_plan"),
        data=lambda w: {"request_key": "k1", "amount": "999.99"},  # a price it no longer is
        fields=lambda w: {"request_key": token, "amount": strict},
    ),
    Endpoint("dns:zone_list", "post", label="cancel", data=lambda w: {"action": "cancel"}),
    Endpoint(
        "dns:zone_list",
        "post",
        label="zone",
        data=lambda w: {"action": "zone", "name": "second.example", "apex": "192.0.2.10"},
        fields=lambda w: {"name": strict, "apex": only("", "   ")},
    ),
    Endpoint(
        "dns:zone_detail",
        kwargs=_pk("zone"),
        # The record search (a name is any text) and its page; the forms post to the page's
        # URL, so the POSTs below read the same query parameters.
        fields=lambda w: {"edit": strict, "q": anything, "type": strict, "page": strict},
    ),
    Endpoint(
        "dns:zone_detail",
        "post",
        kwargs=_pk("zone"),
        label="add",
        data=lambda w: {"action": "add", **ZONE_RECORD, "name": "api"},
        fields=lambda w: {"action": strict, **RECORD_FIELDS},
    ),
    Endpoint(
        "dns:zone_detail",
        "post",
        kwargs=_pk("zone"),
        label="edit",
        data=lambda w: {
            "action": "edit",
            "record": w.record.pk,
            **ZONE_RECORD,
            "content": "192.0.2.11",
        },
        fields=lambda w: {"record": strict, **RECORD_FIELDS},
    ),
    Endpoint(
        "dns:zone_detail",
        "post",
        kwargs=_pk("zone"),
        label="delete",
        data=lambda w: {"action": "delete", "record": w.record.pk},
        fields=lambda w: {"record": strict},
    ),
    Endpoint("dns:zone_delete", kwargs=_pk("zone")),
    Endpoint(
        "dns:zone_delete",
        "post",
        kwargs=_pk("zone"),
        data=lambda w: {"confirm": "shop.example"},
        fields=lambda w: {"confirm": strict},
    ),
    # --- support desk ----------------------------------------------------------------------
    Endpoint("support:ticket_list", fields=_page()),
    Endpoint("support:ticket_create", fields=lambda w: {"service": strict}),
    Endpoint(
        "support:ticket_create",
        "post",
        data=lambda w: {
            "department": w.department.pk,
            "subject": "The panel is slow",
            "body": "Since this morning.",
            "service": w.service.pk,
            "support_key": "",
            "request_key": "new-ticket-1",
        },
        fields=lambda w: {
            "department": strict,
            "subject": text(200),
            "body": message,
            "service": only(""),
            "support_key": only("", "   "),  # blank: no key; any other is no key of theirs
            "request_key": token,
        },
    ),
    Endpoint("support:ticket_detail", kwargs=_pk("ticket")),
    Endpoint(
        "support:ticket_detail",
        "post",
        kwargs=_pk("ticket"),
        data=lambda w: {"body": "Thanks, that helped.", "request_key": "reply-1"},
        fields=lambda w: {"body": message, "request_key": token},
    ),
    Endpoint("support:ticket_close", "post", kwargs=_pk("ticket")),
    Endpoint("support:ticket_reopen", "post", kwargs=_pk("closed_ticket")),
    Endpoint("support:attachment", kwargs=_pk("attachment")),
    # the knowledge base (public) and announcements
    Endpoint("support:kb_index"),
    Endpoint("support:kb_index", anonymous=True),
    Endpoint("support:kb_search", fields=_page(q=anything)),
    Endpoint("support:kb_search", anonymous=True, fields=_page(q=anything)),
    Endpoint("support:kb_suggest", fields=lambda w: {"subject": anything}),
    Endpoint(
        "support:kb_category",
        kwargs=lambda w: {"slug": w.kb_category.slug},
        path=("slug",),
        fields=_page(),
    ),
    Endpoint("support:kb_article", kwargs=lambda w: {"slug": w.kb_article.slug}, path=("slug",)),
    Endpoint("support:announcement_list", fields=_page()),
    Endpoint(
        "support:announcement_unsubscribe",
        anonymous=True,
        kwargs=lambda w: {"token": w.unsubscribe_token},
        path=("token",),
    ),
    Endpoint(
        "support:announcement_unsubscribe",
        "post",
        anonymous=True,
        kwargs=lambda w: {"token": w.unsubscribe_token},
        path=("token",),
        data=lambda w: {"subscribe": "1"},
        fields=lambda w: {"subscribe": anything},  # a flag: any other value unsubscribes
    ),
    # --- invoices and orders ---------------------------------------------------------------
    Endpoint("invoices:invoice_list", fields=_page(status=strict)),
    Endpoint("invoices:invoice_detail", kwargs=_pk("invoice")),
    Endpoint("invoices:invoice_print", kwargs=_pk("invoice")),
    Endpoint("invoices:invoice_pdf", kwargs=_pk("invoice")),
    Endpoint("orders:catalogue"),
    Endpoint("orders:product", kwargs=lambda w: {"slug": w.orderable.slug}, path=("slug",)),
    *(
        Endpoint(
            "orders:product",
            "post",
            kwargs=lambda w: {"slug": w.orderable.slug},
            label=label,
            data=lambda w, extra=extra: {
                "cycle": "monthly",
                "coupon_code": w.coupon.code,
                f"option_{w.order_option.pk}": "2",
                "domain": "shop.example",
                "hostname": "srv1.shop.example",
                **extra,
            },
            fields=lambda w: {
                "cycle": strict,
                "coupon_code": only("", "   "),
                f"option_{w.order_option.pk}": strict,
                "domain": strict,
                "hostname": only("NaN", "Infinity", "1e308"),
                "place": anything,
            },
        )
        for label, extra in (("review", {}), ("place", {"place": "1"}))
    ),
    Endpoint("orders:cancel", "post", kwargs=_pk("order")),
    # --- payments -------------------------------------------------------------------------
    Endpoint("payments:payment_list", fields=_page()),
    Endpoint(
        "payments:checkout_begin",
        "post",
        path=("gateway",),
        kwargs=lambda w: {"pk": w.invoice.pk, "gateway": "stripe"},
    ),
    Endpoint(
        "payments:saved_card_pay",
        "post",
        kwargs=lambda w: {"pk": w.invoice.pk, "method_id": w.card.pk},
    ),
    *(
        Endpoint(name, fields=lambda w, parameter=parameter: {parameter: strict})
        for name, parameter in (
            ("payments:stripe_return", "session_id"),
            ("payments:paypal_return", "token"),
            ("payments:stripe_intent_return", "payment_intent"),
            ("payments:card_return", "session_id"),
            ("payments:subscription_return", "subscription_id"),
        )
    ),
    Endpoint("payments:subscription_begin", "post", kwargs=_pk("plain_service", "service_id")),
    Endpoint("payments:subscription_cancel", "post", kwargs=_pk("subscription")),
    Endpoint("payments:card_list"),
    Endpoint("payments:card_add", "post"),
    Endpoint("payments:card_remove", "post", kwargs=_pk("card")),
    Endpoint("payments:card_default", "post", kwargs=_pk("card")),
    Endpoint("payments:attempt_cancelled", kwargs=_pk("attempt")),
    # --- services -------------------------------------------------------------------------
    Endpoint("provisioning:service_list", fields=_page(status=strict)),
    Endpoint("provisioning:service_detail", kwargs=_pk("service"), fields=lambda w: {"op": strict}),
    Endpoint(
        "provisioning:service_action",
        "post",
        kwargs=lambda w: {"pk": w.service.pk, "name": "start"},
        path=("name",),
        data=lambda w: {"click_key": "a" * 32},
        fields=lambda w: {"click_key": strict, "confirm": anything},
    ),
    Endpoint(
        "provisioning:service_operation",
        kwargs=lambda w: {"pk": w.service.pk, "operation_id": w.operation.pk},
    ),
    Endpoint("provisioning:service_status", kwargs=_pk("service")),
    Endpoint("provisioning:sandbox_panel", kwargs=_pk("service")),
    Endpoint("provisioning:service_login", "post", kwargs=_pk("service")),
    Endpoint(
        "provisioning:site_domain_via_zone",
        "post",
        kwargs=_pk("service"),
        data=lambda w: {"domain": "www.example.test", "click_key": "0" * 32},
        fields=lambda w: {"domain": strict, "click_key": strict},
    ),
    Endpoint(
        "provisioning:service_auto_backups",
        "post",
        kwargs=_pk("service"),
        data=lambda w: {"enabled": "off"},
        fields=lambda w: {"enabled": only("on", "off")},
    ),
    Endpoint("provisioning:service_change", kwargs=_pk("service")),
    Endpoint(
        "provisioning:service_change",
        "post",
        kwargs=_pk("service"),
        label="plan",
        data=lambda w: {"product": w.small.pk},
        fields=lambda w: {"product": strict},
    ),
    Endpoint(
        "provisioning:service_change",
        "post",
        kwargs=_pk("service"),
        label="add-ons",
        data=lambda w: {"product": w.service.product_id, f"option_{w.memory.pk}": "3"},
        fields=lambda w: {"product": strict, f"option_{w.memory.pk}": strict},
    ),
    Endpoint("provisioning:service_cancel", kwargs=_pk("service")),
    *(
        Endpoint(
            "provisioning:service_cancel",
            "post",
            kwargs=_pk("service"),
            label=label,
            data=lambda w, confirm=confirm: {
                "kind": "end_of_period",
                "reason": "other",
                "reason_text": "Moving on",
                **confirm,
            },
            fields=lambda w: {
                "kind": strict,
                "reason": strict,
                "reason_text": text(2000, blank=True),
                "confirm": anything,  # a flag: set, the cancellation is made
            },
        )
        for label, confirm in (("review", {}), ("confirm", {"confirm": "on"}))
    ),
    Endpoint("provisioning:service_cancel_withdraw", "post", kwargs=_pk("service")),
    # --- accounts: email preferences (accounts/preference_views.py) ----------------------
    Endpoint("accounts:email_preferences"),
    Endpoint(
        "accounts:email_preferences",
        "post",
        data=lambda w: {"payment_receipts": "on", "account_updates": ""},
        fields=lambda w: {"payment_receipts": anything, "account_updates": anything},
    ),
)


# --- the state in which every form above would succeed --------------------------------------


def _dns(w: SimpleNamespace) -> None:
    buy(w.customer)
    w.pro_plan = dns_product("Pro")
    # a debit with a receipt (not an invoice payment): as DNS plans were paid before
    w.debit = credit_entry_append(
        customer=w.customer,
        amount=usd("-5.00"),
        kind="service_purchase",
        idempotency_key="dns:world",
        description="DNS plan Basic, one month",
    )
    w.zone = dns_services.zone_create(customer=w.customer, name="shop.example")
    w.record = dns_services.record_add(
        customer=w.customer, zone_id=w.zone.pk, name="www", type="A", ttl=300, content="192.0.2.1"
    )


def _services(w: SimpleNamespace) -> None:
    server = ServerFactory()
    medium, w.small = (
        placed_product(
            server.group,
            name=name,
            slug=name.lower(),
            module="sandbox",
            module_settings={"plan": name},
        )
        for name in ("Medium", "Small")
    )
    w.small.group = medium.group
    w.small.save()
    for product, price in ((medium, "10.00"), (w.small, "4.00")):
        ProductPriceFactory(product=product, price=usd(price))
    w.memory = ConfigurableOptionFactory(product=medium, max_quantity=8)
    ConfigurableOptionPrice.objects.create(
        option=w.memory, cycle="monthly", currency="USD", unit_price=usd("3"), setup_fee=usd("0")
    )
    w.service = Service.objects.create(
        customer=w.customer,
        product=medium,
        cycle="monthly",
        currency="USD",
        recurring_amount=usd("16.00"),
        server=server,
        status="active",
        external_id="sandbox-svc-1",
        next_due_date=timezone.localdate() + timedelta(days=10),
    )
    ServiceOption.objects.create(service=w.service, option=w.memory, quantity=2)
    w.operation = ProvisioningOperation.objects.create(
        service=w.service,
        kind=ProvisioningOperation.Kind.ACTION,
        idempotency_key=f"service:{w.service.pk}:action:{'b' * 32}",
        payload={"action": "start", "params": {}},
    )


def _orders(w: SimpleNamespace) -> None:
    w.orderable = ProductFactory(slug="web-hosting", requires_domain=True, requires_hostname=True)
    price = ProductPriceFactory(product=w.orderable, price=usd("5.00"))
    w.order_option = ConfigurableOptionFactory(product=w.orderable, max_quantity=4)
    ConfigurableOptionPrice.objects.create(
        option=w.order_option,
        cycle="monthly",
        currency="USD",
        unit_price=usd("1.00"),
        setup_fee=usd("0"),
    )
    w.coupon = CouponFactory()
    request = billing_services.OrderRequest(
        product=w.orderable,
        cycle="monthly",
        currency="USD",
        domain="first.example",
        hostname="srv1",
    )
    w.order = billing_services.order_place(customer=w.customer, request=request)
    w.plain_service = Service.objects.get(order=w.order)
    plan = GatewayPlan.objects.create(
        gateway="paypal",
        product=w.orderable,
        cycle="monthly",
        currency="USD",
        amount=price.price,
        product_reference="PROD-1",
        reference="P-1",
    )
    w.subscription = GatewaySubscription.objects.create(
        service=w.service,
        customer=w.customer,
        gateway="paypal",
        plan=plan,
        reference="I-SUB1",
        status=GatewaySubscription.Status.ACTIVE,
    )


def _support(w: SimpleNamespace) -> None:
    w.department = department()
    w.ticket = ticket_for(w.customer, attachments=[upload()])
    w.attachment = w.ticket.attachments.get()
    w.closed_ticket = ticket_for(w.customer, subject="Solved")
    support_services.ticket_close(
        ticket_id=w.closed_ticket.pk, actor=w.customer.user, customer=w.customer
    )
    w.kb_category = ArticleCategory.objects.create(name="Guides", slug="guides")
    w.kb_article = support_services.article_save(
        article=Article(
            category=w.kb_category, title="Upload", slug="upload", body="Use SFTP.",
            status=Article.Status.PUBLISHED,
        )
    )  # fmt: skip
    Announcement.objects.create(title="Maintenance", body="Sunday.")
    w.unsubscribe_token = support_services.announcement_unsubscribe_token(w.customer.pk)


def _payments(w: SimpleNamespace) -> None:
    GatewayCustomer.objects.create(customer=w.customer, gateway="stripe", reference="cus_1")
    w.card = SavedPaymentMethod.objects.create(
        customer=w.customer,
        gateway="stripe",
        reference="pm_1",
        brand="visa",
        last4="4242",
        exp_month=1,
        exp_year=2031,
        is_default=True,
    )
    for gateway, kind, reference, status in (
        ("stripe", "checkout", "cs_1", "redirected"),
        ("paypal", "checkout", "ORDER1", "redirected"),
        ("stripe", "card_setup", "cs_setup_1", "redirected"),
        ("stripe", "checkout", "", "failed"),
        ("stripe", "card_setup", "", "failed"),
    ):
        PaymentAttempt.objects.create(
            invoice=w.invoice,
            customer=w.customer,
            gateway=gateway,
            kind=kind,
            reference=reference,
            status=status,
            currency="USD",
            amount=w.invoice.amount_due,
        )
    w.attempt = PaymentAttempt.objects.get(reference="cs_1")


@pytest.fixture
def world(
    monkeypatch, settings, stripe_settings, paypal_settings, mocked, invoice_factory
) -> SimpleNamespace:
    """Everything the forms act on, for one customer; providers configured but unreachable
    (`mocked` answers nothing), so no case can reach a real provider."""
    # Every case must reach its form; the throttles are tested in accounts/tests/test_throttles.py.
    settings.RATELIMIT_ENABLE = False
    monkeypatch.setattr(dns_services, "delegation_check", lambda name: None)
    w = SimpleNamespace(customer=CustomerFactory(preferred_currency="USD"))
    credit_entry_append(
        customer=w.customer, amount=usd("100"), kind="admin_add", idempotency_key="world"
    )
    w.invoice = invoice_factory(w.customer, "30.00", description="Hosting")
    w.event = AuditEventFactory(customer=w.customer)
    w.api_key = account_services.api_key_create(
        user=w.customer.user, name="Script", scopes=["read"]
    ).api_key
    w.uid = urlsafe_base64_encode(force_bytes(w.customer.user.pk))
    w.reset_token = default_token_generator.make_token(w.customer.user)
    _dns(w)
    _services(w)
    _orders(w)
    _payments(w)
    _support(w)
    return w


# --- running the cases -------------------------------------------------------------------


def _database_state() -> dict[str, object]:
    """Per table, a value that moves whenever a row is written: on PostgreSQL the number of
    rows this transaction has inserted, updated or deleted (one cheap query, and it also
    sees a write that puts back the same values); elsewhere a digest of the table's rows."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_xact_user_tables"
            )
            return dict(cursor.fetchall())
        state = {}
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            rows = sorted(repr(row) for row in cursor.fetchall())
            state[table] = hashlib.md5("|".join(rows).encode(), usedforsecurity=False).digest()
        return state


@dataclass
class Outcome:
    status: int
    changed: set[str] = field(default_factory=set)
    error: str = ""
    markup_shown: bool = False


def _run(client: Client, endpoint: Endpoint, w, url: str, data: dict) -> Outcome:
    """One request in a savepoint that is rolled back, the client's cookies restored."""
    cookies = copy.deepcopy(client.cookies)
    try:
        with transaction.atomic():
            if endpoint.prepare:
                endpoint.prepare(client, w)
            before = _database_state()
            response = getattr(client, endpoint.method)(url, data)
            outcome = Outcome(response.status_code)
            if response.status_code >= 500:
                exc = response.exc_info[1] if response.exc_info else None
                outcome.error = f"{type(exc).__name__}: {str(exc)[:200]}" if exc else ""
            else:
                after = _database_state()
                outcome.changed = {t for t in after if before.get(t) != after[t]}
                # (a download streams its body)
                body = (
                    b"".join(response.streaming_content) if response.streaming else response.content
                )
                outcome.markup_shown = MARKUP.encode() in body
            transaction.set_rollback(True)
    finally:
        client.cookies = cookies
    return outcome


def _url(endpoint: Endpoint, w, **override) -> str:
    return reverse(endpoint.name, kwargs={**endpoint.kwargs(w), **override})


def _int_kwargs(endpoint: Endpoint, w) -> list[str]:
    return [k for k, v in endpoint.kwargs(w).items() if isinstance(v, int)]


def _path_with(endpoint: Endpoint, w, kwarg: str, value: str) -> str:
    """The URL with one path parameter replaced by `value`, even where the route refuses it."""
    sentinel = "9876543210"
    kwargs = {
        **endpoint.kwargs(w),
        kwarg: int(sentinel) if kwarg in _int_kwargs(endpoint, w) else sentinel,
    }
    return reverse(endpoint.name, kwargs=kwargs).replace(sentinel, value)


def _cases(endpoint: Endpoint, w) -> Iterator[tuple[str, str, dict, bool]]:
    """(what, url, data, whether the value is valid input) for each hostile case."""
    url, data = _url(endpoint, w), endpoint.data(w)
    for name, accepts in endpoint.fields(w).items():
        for value in HOSTILE:
            yield f"{name}={value[:30]!r}", url, {**data, name: value}, accepts(value)
    int_kwargs = _int_kwargs(endpoint, w)
    for kwarg in (*endpoint.path, *int_kwargs):
        for value in PATH_IDS if kwarg in int_kwargs else HOSTILE[1:]:
            path = _path_with(endpoint, w, kwarg, value)
            yield f"path {kwarg}={value[:30]!r}", path, data, False


@pytest.fixture
def clients(world) -> dict[bool, Client]:
    signed_in = Client(raise_request_exception=False)
    signed_in.force_login(world.customer.user)
    return {False: signed_in, True: Client(raise_request_exception=False)}


def test_hostile_input_never_answers_500_and_changes_nothing(world, clients):
    failures = []
    for endpoint in ENDPOINTS:
        client = clients[endpoint.anonymous]
        allowed = ALWAYS_WRITTEN | endpoint.logs
        for what, url, data, valid in _cases(endpoint, world):
            outcome = _run(client, endpoint, world, url, data)
            if outcome.status >= 500:
                failures.append(f"{endpoint} {what}: {outcome.status} {outcome.error}")
            elif outcome.markup_shown:
                failures.append(f"{endpoint} {what}: markup shown unescaped")
            elif outcome.changed - allowed and not valid:
                failures.append(f"{endpoint} {what}: changed {sorted(outcome.changed)}")
    assert not failures, f"{len(failures)} hostile cases failed:\n" + "\n".join(failures)


# --- completeness -----------------------------------------------------------------------


def _client_area_names() -> set[str]:
    def walk(patterns, namespace: str = "") -> Iterator[str]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                yield from walk(pattern.url_patterns, inner)
            elif isinstance(pattern, URLPattern) and pattern.name:
                yield f"{namespace}{pattern.name}"

    return {
        name for name in walk(get_resolver().url_patterns) if not name.startswith(NOT_CLIENT_AREA)
    }


def test_every_client_area_url_is_in_the_table():
    assert _client_area_names() - {endpoint.name for endpoint in ENDPOINTS} == set()
    assert {endpoint.name for endpoint in ENDPOINTS} - _client_area_names() == set()


@pytest.fixture
def reads(monkeypatch) -> set[str]:
    """The names a view reads from request.GET / request.POST."""
    names: set[str] = set()
    for method in ("get", "getlist", "__getitem__", "__contains__"):
        original = getattr(QueryDict, method)

        def recording(self, key, *args, _original=original):
            names.add(key)
            return _original(self, key, *args)

        monkeypatch.setattr(QueryDict, method, recording)
    return names


def test_every_parameter_a_view_reads_is_tested(world, clients, reads):
    """Each endpoint sent its valid input: whatever the view reads must be a tested field of
    that URL (a form or query parameter added without hostile cases fails here)."""
    untested, broken = {}, []
    for endpoint in ENDPOINTS:
        reads.clear()
        outcome = _run(
            clients[endpoint.anonymous],
            endpoint,
            world,
            _url(endpoint, world),
            endpoint.data(world),
        )
        if outcome.status >= 500:
            broken.append(f"{endpoint}: {outcome.status} {outcome.error}")
        tested = {f for e in ENDPOINTS if e.name == endpoint.name for f in e.fields(world)}
        missing = reads - tested - LIBRARY_READS
        if missing:
            untested[str(endpoint)] = sorted(missing)
    assert not broken
    assert not untested, f"parameters read without hostile cases: {untested}"


# --- webhooks (not the client area, but no 500 either) --------------------------------------


def test_hostile_webhook_deliveries_never_answer_500(stripe_settings, settings, mocked):
    """Signed Stripe events whose id and type are hostile, and unsigned garbage to both
    endpoints: refused (400) or stored, never 500."""
    from payments.tests import stripe_events

    settings.PAYPAL_CLIENT_ID, settings.PAYPAL_CLIENT_SECRET = "paypal-id", "paypal-secret"
    # Every case must reach its form; the throttles are tested in accounts/tests/test_throttles.py.
    settings.RATELIMIT_ENABLE = False
    settings.PAYPAL_WEBHOOK_ID = "WH-1"
    client, failures = Client(raise_request_exception=False), []

    def deliver(url: str, body: str | bytes, **headers) -> None:
        response = client.post(url, body, content_type="application/json", **headers)
        if response.status_code >= 500:
            failures.append(f"{url} {body[:60]!r} {headers}: {response.status_code}")

    for value in HOSTILE:
        for key in ("id", "type"):
            payload = {**stripe_events.event("payment_intent.succeeded", {}), key: value}
            body, headers = stripe_events.signed(payload)
            deliver("/webhooks/stripe/", body, **headers)
        for url in ("/webhooks/stripe/", "/webhooks/paypal/"):
            deliver(url, value, HTTP_STRIPE_SIGNATURE=value, HTTP_PAYPAL_TRANSMISSION_ID=value)
    deliver("/webhooks/stripe/", b"\xff\xfe\x00garbage", HTTP_STRIPE_SIGNATURE="t=1,v1=00")
    assert not failures, "\n".join(failures)
