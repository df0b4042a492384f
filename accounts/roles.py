"""Staff roles: the groups Support, Billing, Technical and Administrator and the permissions
each one holds. This table is the one place roles are defined: the data migration
`billing/0007_staff_roles`, `manage.py staff_roles` and the permissions-matrix test
(billing_portal/tests/test_roles_matrix.py) all read it.

A role lists, per model (`"app_label.model"`, or `"app_label.*"` for every model of an
app), what it may do there: Django's `view`/`add`/`change`/`delete`, or a model's own
permission codename (`suspend_service`); `EVERY` is every permission of that model,
standard and its own, including ones added later. Permissions that do not exist (yet) are
skipped, so a model another change adds (the staff notes' `accounts.StaffNote`) is granted
the next time the roles are synced after its migration, with no edit here.

Syncing sets each group's permissions to exactly the table's, so a role edited by hand in
the admin is put back; staff who need something else get it on their user, not the group.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet

EVERY = "*"
STANDARD_ACTIONS = ("view", "add", "change", "delete")
VIEW = ("view",)

Grant = tuple[str, ...] | str


@dataclass(frozen=True)
class Role:
    name: str
    summary: str
    grants: Mapping[str, Grant] = field(default_factory=dict)
    everything: bool = False  # every permission there is (Administrator)


SUPPORT = Role(
    "Support",
    "Customers and services: look them up, suspend and unsuspend services, keep notes, act "
    "as the customer in the client area. Sees invoices, payments and credit; changes none.",
    {
        "accounts.customer": ("view", "act_as_customer"),
        "accounts.user": VIEW,
        "accounts.staffnote": EVERY,
        "provisioning.service": ("view", "suspend_service"),
        "provisioning.cancellationrequest": VIEW,
        "provisioning.provisioningoperation": VIEW,
        "provisioning.automaticbackup": VIEW,
        "catalogue.order": VIEW,
        "invoices.invoice": VIEW,
        "invoices.creditnote": VIEW,
        "payments.payment": VIEW,
        "credits.creditaccount": VIEW,
        "credits.creditentry": VIEW,
        "dns.zone": VIEW,
        "common.auditevent": VIEW,
        # The desk (issue 18): every ticket action; the departments are an administrator's.
        "support.ticket": EVERY,
        "support.cannedresponse": EVERY,
        "support.department": VIEW,
        # The knowledge base is Support's to write; announcements are read here.
        "support.article": EVERY,
        "support.articlecategory": EVERY,
        "support.announcement": VIEW,
        # Staff's wording of emails: read and previewed here, written by an Administrator.
        "common.emailtemplateoverride": VIEW,
    },
)

# Billing and Technical answer the tickets of their departments (reply, internal notes).
ANSWER_TICKETS = ("view", "reply_ticket")

BILLING = Role(
    "Billing",
    "Invoices, payments, refunds, account credit, tokens and credit notes; tax rates and "
    "client groups (pricing tiers).",
    {
        "accounts.customer": VIEW,
        "accounts.user": VIEW,
        "invoices.*": EVERY,
        "payments.*": EVERY,
        "credits.*": EVERY,
        "billing.tokenpurchase": EVERY,
        "billing.refundshortfall": EVERY,
        "billing.billingrun": VIEW,
        "billing.servicechange": VIEW,
        "catalogue.order": VIEW,
        "catalogue.coupon": VIEW,
        "catalogue.taxrate": EVERY,
        "provisioning.service": VIEW,
        "common.auditevent": VIEW,
        "support.ticket": ANSWER_TICKETS,
        # The staff reports and accounting exports (issue 19).
        "reports.report": ("view_reports", "export_reports"),
        # Client groups (issue 20): pricing tiers, their discounts and who is in them.
        "catalogue.clientgroup": EVERY,
        "catalogue.clientgroupdiscount": EVERY,
        "catalogue.customergroup": EVERY,
    },
)

TECHNICAL = Role(
    "Technical",
    "Servers and panels, provisioning operations, backups, DNS, and the system status.",
    {
        "accounts.customer": VIEW,
        "provisioning.server": EVERY,
        "provisioning.servergroup": EVERY,
        "provisioning.siteplan": EVERY,
        "provisioning.productplacement": EVERY,
        "provisioning.productbackuppolicy": EVERY,
        "provisioning.provisioningoperation": EVERY,
        "provisioning.automaticbackup": EVERY,
        "provisioning.service": ("view", "provision_service"),
        "dns.*": EVERY,
        "common.outboxmessage": EVERY,
        "common.portalbackup": EVERY,
        "common.auditevent": VIEW,
        "support.ticket": ANSWER_TICKETS,
        # Maintenance notices to customers (announcements, optionally emailed).
        "support.announcement": EVERY,
        # Outbound webhooks: what was sent, and sending it again; registering endpoints
        # (where customers' data goes, and their secrets) is an administrator's.
        "common.webhookdelivery": ("view", "resend_webhookdelivery"),
        "common.webhookendpoint": VIEW,
    },
)

ADMINISTRATOR = Role("Administrator", "Everything, including staff users and roles.", {}, True)

ROLES: tuple[Role, ...] = (SUPPORT, BILLING, TECHNICAL, ADMINISTRATOR)


def _grant_filter(target: str, grant: Grant) -> Q:
    app_label, model = target.split(".")
    where = Q(content_type__app_label=app_label)
    if model != "*":
        where &= Q(content_type__model=model)
    if grant == EVERY:
        return where
    codenames = [f"{g}_{model}" if g in STANDARD_ACTIONS else g for g in grant]
    return where & Q(codename__in=codenames)


def role_permissions(role: Role, permissions: QuerySet[Any]) -> QuerySet[Any]:
    """The permissions of `role` among `permissions` (the Permission manager's queryset;
    the migration passes its historical model's)."""
    if role.everything:
        return permissions.all()
    where = Q(pk__in=[])
    for target, grant in role.grants.items():
        where |= _grant_filter(target, grant)
    return permissions.filter(where)


@dataclass(frozen=True)
class RoleSync:
    name: str
    created: bool
    added: int
    removed: int


def roles_sync(*, group_model: Any, permission_model: Any, remove: bool = True) -> list[RoleSync]:
    """Create the role groups and set each one's permissions to the table's (idempotent).
    Takes the models so the data migration can pass its historical ones. `remove=False`
    (the migration) only adds: a provider's existing group of the same name keeps what its
    staff gave it; `manage.py staff_roles` puts the table back exactly."""
    results = []
    for role in ROLES:
        group, created = group_model.objects.get_or_create(name=role.name)
        wanted = set(role_permissions(role, permission_model.objects).values_list("pk", flat=True))
        held = set(group.permissions.values_list("pk", flat=True))
        extra = held - wanted if remove else set()
        group.permissions.add(*(wanted - held))
        group.permissions.remove(*extra)
        results.append(RoleSync(role.name, created, len(wanted - held), len(extra)))
    return results
