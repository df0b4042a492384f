"""The staff roles' permissions matrix (issue 16): for each role of accounts/roles.py, what
every registered model admin lets it do (view/add/change/delete), which admin actions it is
offered and which custom admin URLs it may use, compared with the tables declared here.

The actions and custom URLs are the ones test_admin_permissions.py declares (its walk fails
for any that is undeclared, and it proves each needs exactly its permission); a new model
admin, action or URL without a row here fails this test. Administrator must match a
superuser everywhere. Then the issue's acceptance, as real requests: a Support user can act
as a customer and cannot refund; a Billing user can refund and cannot edit servers.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts.models import User
from accounts.roles import ROLES, roles_sync
from accounts.tests.factories import CustomerFactory, UserFactory
from accounts.tests.helpers import role_member
from billing_portal.common.testing import form_values
from billing_portal.tests.test_admin_permissions import (
    ACTIONS,
    URLS,
    Env,
    _actions,
    change_page,
    fresh,
)
from provisioning.tests.factories import ServerFactory

pytestmark = pytest.mark.django_db

SUPPORT, BILLING, TECHNICAL, ADMINISTRATOR = "Support", "Billing", "Technical", "Administrator"
DECLARED = (SUPPORT, BILLING, TECHNICAL)  # Administrator: whatever a superuser may

# Per model admin: what (v)iew, (a)dd, (c)hange, (d)elete each role has, in DECLARED order.
# (An admin that never adds or deletes, such as a ledger, refuses those to every role.)
MODELS: dict[str, tuple[str, str, str]] = {
    "accounts.ApiKey": ("", "", ""),  # read-only and never deleted; staff keys: Administrator
    "accounts.Customer": ("v", "v", "v"),
    "accounts.StaffNote": ("vacd", "", ""),
    "accounts.User": ("v", "v", ""),
    "auth.Group": ("", "", ""),
    "axes.AccessAttempt": ("", "", ""),
    "axes.AccessFailureLog": ("", "", ""),
    "axes.AccessLog": ("", "", ""),
    "billing.BillingRun": ("", "v", ""),
    "billing.RefundShortfall": ("", "v", ""),
    "billing.TokenPurchase": ("", "v", ""),
    "catalogue.ConfigurableOption": ("", "", ""),
    "catalogue.Coupon": ("", "v", ""),
    "catalogue.Order": ("v", "v", ""),
    "catalogue.Product": ("", "", ""),
    "catalogue.ProductGroup": ("", "", ""),
    "catalogue.TaxRate": ("", "vacd", ""),
    "common.AuditEvent": ("v", "v", "v"),
    "common.OutboxMessage": ("", "", "v"),
    "credits.CreditAccount": ("v", "v", ""),
    "credits.CreditEntry": ("v", "v", ""),
    "dns.DnsAllowance": ("", "", "v"),
    "dns.DnsOperation": ("", "", "v"),
    "dns.Zone": ("v", "", "v"),
    "invoices.CreditNote": ("v", "v", ""),
    "invoices.Invoice": ("v", "v", ""),
    "invoices.InvoiceNotice": ("", "v", ""),
    "invoices.UsageRecord": ("", "vacd", ""),
    "payments.Payment": ("v", "v", ""),
    "payments.WebhookEvent": ("", "v", ""),
    "provisioning.AutomaticBackup": ("v", "", "v"),
    "provisioning.CancellationRequest": ("v", "", ""),
    "provisioning.ProvisioningOperation": ("v", "", "v"),
    "provisioning.Server": ("", "", "vacd"),
    "provisioning.ServerGroup": ("", "", "vacd"),
    "provisioning.Service": ("v", "v", "v"),
    "provisioning.SitePlan": ("", "", "vacd"),
    "support.CannedResponse": ("vacd", "", ""),
    "support.Department": ("v", "", ""),
    "support.Ticket": ("v", "v", "v"),  # changed by its actions and replies; never deleted
    "support.Article": ("vacd", "", ""),
    "support.ArticleCategory": ("vacd", "", ""),
    "support.Announcement": ("v", "", "vacd"),
    "common.WebhookDelivery": ("", "", "v"),
    "common.WebhookEndpoint": ("", "", "v"),  # registered by an Administrator
    "catalogue.ClientGroup": ("", "vacd", ""),
    "catalogue.CustomerGroup": ("", "vacd", ""),
    "common.EmailTemplateOverride": ("v", "", ""),  # written by an Administrator
}

# Per admin action (delete_selected follows the model's "d" above): the roles offered it.
ACTION_ROLES: dict[tuple[str, str], set[str]] = {
    ("accounts.ApiKey", "revoke_selected"): set(),
    ("accounts.StaffNote", "pin_selected"): {SUPPORT},
    ("accounts.StaffNote", "unpin_selected"): {SUPPORT},
    ("axes.AccessAttempt", "cleanup_expired_attempts"): set(),
    ("common.OutboxMessage", "relay_now"): {TECHNICAL},
    ("dns.Zone", "reconcile"): {TECHNICAL},
    ("invoices.Invoice", "cancel_selected"): {BILLING},
    ("invoices.Invoice", "issue_selected"): {BILLING},
    ("payments.WebhookEvent", "reprocess"): {BILLING},
    ("provisioning.AutomaticBackup", "retry"): {TECHNICAL},
    ("provisioning.CancellationRequest", "withdraw"): set(),
    ("provisioning.ProvisioningOperation", "mark_resolved"): {TECHNICAL},
    ("provisioning.ProvisioningOperation", "retry"): {TECHNICAL},
    ("provisioning.Server", "check_now"): {TECHNICAL},
    ("provisioning.Service", "cancel_at_period_end"): set(),
    ("provisioning.Service", "cancel_now"): set(),
    ("provisioning.Service", "provision"): {TECHNICAL},
    ("provisioning.Service", "retry_provisioning"): {TECHNICAL},
    ("provisioning.Service", "suspend"): {SUPPORT},
    ("provisioning.Service", "terminate"): set(),
    ("provisioning.Service", "unsuspend"): {SUPPORT},
    ("support.Ticket", "assign"): {SUPPORT},
    ("support.Ticket", "change_priority"): {SUPPORT},
    ("support.Ticket", "close_tickets"): {SUPPORT},
    ("support.Ticket", "merge"): {SUPPORT},
    ("support.Ticket", "move_department"): {SUPPORT},
    ("support.Ticket", "put_on_hold"): {SUPPORT},
    ("common.WebhookDelivery", "resend"): {TECHNICAL},
    ("common.WebhookEndpoint", "rotate_secret"): set(),
}

# Per custom admin URL: the roles that may use it.
URL_ROLES: dict[str, set[str]] = {
    "accounts_customer_act_as": {SUPPORT},
    "accounts_customer_erase": set(),  # Administrator only
    "accounts_customer_summary": {SUPPORT},  # its POST adds a note
    "auth_user_password_change": set(),
    "billing_refundshortfall_resolve": {BILLING},
    "billing_tokenpurchase_grant": {BILLING},
    "billing_tokenpurchase_resolve": {BILLING},
    "credits_change_credit": {BILLING},
    "invoices_invoice_credit_note": {BILLING},
    "invoices_invoice_manual": {BILLING},
    "payments_payment_credit_refund": {BILLING},
    "payments_payment_gateway_refund": {BILLING},
    "payments_payment_record": {BILLING},
    "payments_payment_refund": {BILLING},
    "provisioning_cancellationrequest_report": set(),
    "provisioning_server_lookups": {TECHNICAL},
    "provisioning_service_place": {TECHNICAL},
    "support_ticket_reply": {SUPPORT, BILLING, TECHNICAL},
    "common_webhookdelivery_resend": {TECHNICAL},
    "common_emailtemplateoverride_preview": set(),  # Administrator only (who writes them)
    "common_emailtemplateoverride_test_send": set(),  # Administrator only
}

# The staff report pages beside the admin (reports/urls.py, issue 19): the roles that may
# open each (the reports' permissions: view_reports, export_reports).
REPORT_URL_ROLES: dict[str, set[str]] = {
    "reports:index": {BILLING},
    "reports:report": {BILLING},
    "reports:exports": {BILLING},
}
REPORT_URL_ARGS: dict[str, list[str]] = {"reports:report": ["revenue"]}


def _model_rights(model_admin, user: User) -> str:
    request = RequestFactory().get("/")
    request.user = user
    checks = (
        ("v", model_admin.has_view_permission),
        ("a", model_admin.has_add_permission),
        ("c", model_admin.has_change_permission),
        ("d", model_admin.has_delete_permission),
    )
    return "".join(letter for letter, allowed in checks if allowed(request))


@pytest.fixture
def users() -> dict[str, User]:
    made = {role.name: role_member(role.name) for role in ROLES}
    made["superuser"] = UserFactory(is_staff=True, is_superuser=True)
    return made


def test_the_declared_tables_cover_every_admin_action_and_url():
    registered = {model._meta.label for model in admin.site._registry}
    assert set(MODELS) == registered, "declare each role's rights on new model admins in MODELS"
    actions = {key for key in ACTIONS if key[1] != "delete_selected"}
    assert set(ACTION_ROLES) == actions, "declare which roles get each admin action"
    assert set(URL_ROLES) == set(URLS), "declare which roles may use each custom admin URL"
    assert {role.name for role in ROLES} == {*DECLARED, ADMINISTRATOR}


def test_each_roles_rights_on_every_model_admin(users):
    wrong = []
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label
        expected = dict(zip(DECLARED, MODELS[label], strict=True))
        expected[ADMINISTRATOR] = _model_rights(model_admin, users["superuser"])
        for role, rights in expected.items():
            actual = _model_rights(model_admin, users[role])
            if actual != rights:
                wrong.append(f"{role} on {label}: {actual!r}, declared {rights!r}")
    assert not wrong, "\n".join(wrong)


def test_each_role_is_offered_exactly_its_admin_actions(users):
    wrong = []
    for label, name in ACTIONS:
        model_admin = admin.site._registry[apps.get_model(label)]
        if name == "delete_selected":
            allowed = {
                r for r, rights in zip(DECLARED, MODELS[label], strict=True) if "d" in rights
            }
        else:
            allowed = ACTION_ROLES[(label, name)]
        for role in (*DECLARED, ADMINISTRATOR):
            offered = name in _actions(model_admin, users[role])
            if offered is not (role in allowed or role == ADMINISTRATOR):
                wrong.append(f"{role} {'is' if offered else 'is not'} offered {label}.{name}")
    assert not wrong, "\n".join(wrong)


def test_each_role_may_use_exactly_its_custom_admin_urls(users):
    # Each URL needs exactly its declared permission: test_admin_permissions.py proves it.
    wrong = [
        f"{role} {'may' if users[role].has_perm(case.permission) else 'may not'} use {name}"
        for name, case in URLS.items()
        for role in (*DECLARED, ADMINISTRATOR)
        if users[role].has_perm(case.permission)
        is not (role in URL_ROLES[name] or role == ADMINISTRATOR)
    ]
    assert not wrong, "\n".join(wrong)


# --- acceptance 2, as requests ----------------------------------------------------------


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _refund_attempt(user: User, mocked, settings) -> tuple[Env, int]:
    case = URLS["payments_payment_refund"]
    env = Env(mocked=mocked, settings=settings)
    env.obj = case.setup(env)
    response = _client(user).post(case.url(env), case.data(env))
    return env, response.status_code


def test_a_support_user_can_act_as_a_customer_and_cannot_refund(mocked, settings):
    support = role_member(SUPPORT)
    customer = CustomerFactory()
    client = _client(support)
    acting = client.post(reverse("admin:accounts_customer_act_as", args=[customer.pk]))
    assert acting.status_code == 302
    assert int(client.session["_auth_user_id"]) == customer.user.pk
    # (in a session of its own: the one above is the customer's now)
    env, status = _refund_attempt(role_member(SUPPORT), mocked, settings)
    assert status == 403
    assert fresh(env.obj).amount_refunded.amount == 0
    assert _client(role_member(SUPPORT)).get(change_page(env.obj)).status_code == 200  # may look


def test_a_billing_user_can_refund_and_cannot_edit_servers(mocked, settings, admin_client):
    env, status = _refund_attempt(role_member(BILLING), mocked, settings)
    assert status == 302
    assert fresh(env.obj).amount_refunded.amount > 0
    # given a server's real change form, as a superuser posts it
    server = ServerFactory()
    page = admin_client.get(change_page(server))
    data = {**form_values(page.content.decode(), "server_form"), "name": "renamed"}
    billing = _client(role_member(BILLING))
    assert billing.get(change_page(server)).status_code == 403
    assert billing.post(change_page(server), data).status_code == 403
    assert fresh(server).name != "renamed"
    # the same form is one Technical may save
    assert _client(role_member(TECHNICAL)).post(change_page(server), data).status_code == 302
    assert fresh(server).name == "renamed"


def test_the_dashboards_figures_and_reports_are_billings_and_administrators():
    """reports.view_reports (issue 19): a tableless model's permission, so no admin above
    declares it."""
    roles_sync(group_model=Group, permission_model=Permission)  # the table as it is now
    holders = {
        role
        for role in (*DECLARED, ADMINISTRATOR)
        if role_member(role).has_perm("reports.view_reports")
    }
    assert holders == {BILLING, ADMINISTRATOR}


def test_each_role_may_open_exactly_its_report_pages():
    # The role groups as the table declares them now: their migration ran before the
    # reports' permissions existed (roles are synced again when a release adds some).
    roles_sync(group_model=Group, permission_model=Permission)
    wrong = []
    for role in (*DECLARED, ADMINISTRATOR):
        client = _client(role_member(role))
        for name, allowed in REPORT_URL_ROLES.items():
            status = client.get(reverse(name, args=REPORT_URL_ARGS.get(name, []))).status_code
            if (status == 200) is not (role in allowed or role == ADMINISTRATOR):
                wrong.append(f"{role} gets {status} from {name}")
    assert not wrong, "\n".join(wrong)
