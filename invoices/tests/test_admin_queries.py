"""Staff list pages run the same number of SQL queries for 1 and for 50 rows, and the lists
of the tables that grow without bound stay that way at 100,000 rows without reading the
table: no full count, no unindexed order, no filter that asks every row."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.contrib import admin
from django.db import connection
from django.db.models import Model
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from accounts.models import Customer, User
from accounts.services import api_key_create
from accounts.tests.factories import (
    AuditEventFactory,
    CustomerFactory,
    StaffNoteFactory,
    UserFactory,
)
from billing import services as billing_services
from billing.models import BillingRun, TokenPurchase
from billing_portal.common.admin import LargeTableAdminMixin
from billing_portal.common.audit import AuditEvent
from billing_portal.common.models import OutboxMessage, WebhookDelivery, WebhookEndpoint
from billing_portal.common.testing import index_for_order, order_by_columns
from catalogue.models import Order
from catalogue.tests.factories import (
    ClientGroupFactory,
    CouponFactory,
    CustomerGroupFactory,
    ProductFactory,
    ProductPriceFactory,
)
from credits.models import CreditEntry
from dnszones.models import DnsOperation, Zone
from invoices import services
from invoices.models import CreditNote, Invoice, UsageRecord
from payments.models import Payment, WebhookEvent
from provisioning.models import (
    AutomaticBackup,
    CancellationRequest,
    ProvisioningOperation,
    Service,
)

pytestmark = pytest.mark.django_db


def _invoice():
    line = services.LineDraft(kind="manual", description="x", unit_price=Money(Decimal("1"), "USD"))
    draft = services.invoice_create_draft(customer=CustomerFactory(), currency="USD", lines=[line])
    billing_services.invoice_issue(invoice_id=draft.pk)


def _service() -> Service:
    return Service.objects.create(
        customer=CustomerFactory(),
        product=ProductPriceFactory().product,
        cycle="monthly",
        currency="USD",
        recurring_amount=Money(Decimal("5"), "USD"),
    )


def _operation():
    service = _service()
    ProvisioningOperation.objects.create(
        service=service,
        kind="create",
        idempotency_key=f"service:{service.pk}:create:1",
        status="succeeded",
        request_summary={"kind": "create"},
    )


def _cancellation():
    service = _service()
    CancellationRequest.objects.create(
        service=service,
        customer=service.customer,
        kind="end_of_period",
        reason="other",
        effective_on=date(2026, 2, 1),
        currency="USD",
    )


def _automatic_backup():
    AutomaticBackup.objects.create(service=_service(), slot=date(2026, 5, 1), name="AUTO-1")


def _dns_operation():
    n = DnsOperation.objects.count()
    DnsOperation.objects.create(
        zone_name=f"zone{n}.test", kind="create_zone", idempotency_key=f"zone{n}.test:create_zone"
    )


def _usage():
    UsageRecord.objects.create(service=_service(), metric="bandwidth_gb", quantity=Decimal("3"))


def _credit_note():
    line = services.LineDraft(kind="manual", description="x", unit_price=Money(Decimal("9"), "USD"))
    draft = services.invoice_create_draft(customer=CustomerFactory(), currency="USD", lines=[line])
    billing_services.invoice_issue(invoice_id=draft.pk)
    billing_services.invoice_mark_paid(invoice_id=draft.pk)
    services.credit_note_issue(invoice_id=draft.pk, amount=Money(Decimal("1"), "USD"), reason="x")


def _payment():
    from billing.services import payment_record

    line = services.LineDraft(kind="manual", description="x", unit_price=Money(Decimal("9"), "USD"))
    draft = services.invoice_create_draft(customer=CustomerFactory(), currency="USD", lines=[line])
    billing_services.invoice_issue(invoice_id=draft.pk)
    payment_record(
        invoice_id=draft.pk,
        gateway="manual",
        reference=f"ref-{draft.pk}",
        amount=Money(Decimal("9"), "USD"),
    )


def _webhook_event():
    from payments.models import WebhookEvent

    n = WebhookEvent.objects.count()
    WebhookEvent.objects.create(provider="stripe", event_id=f"evt_{n}", event_type="x", body="{}")


def _credit():
    from credits.services import credit_entry_append

    customer = CustomerFactory()
    credit_entry_append(
        customer=customer, amount=Money(Decimal("5"), "USD"), kind="admin_add", idempotency_key="k"
    )


def _token_purchase():
    TokenPurchase.objects.create(
        customer=CustomerFactory(),
        source="staff",
        status="delivered",
        tokens=Decimal("100"),
        rate=100,
        currency="USD",
        amount=Money(0, "USD"),
        reason="Goodwill",
    )


def _refund_shortfall():
    from billing.models import RefundShortfall

    _invoice()
    invoice = Invoice.objects.latest("pk")
    RefundShortfall.objects.create(
        customer=invoice.customer,
        invoice=invoice,
        kind="credit",
        currency="USD",
        amount=Money(Decimal("1"), "USD"),
        description="x",
    )


def _invoice_notice():
    from invoices.models import InvoiceNotice

    _invoice()
    InvoiceNotice.objects.create(invoice=Invoice.objects.latest("pk"), kind="due")


def _outbox_message():
    OutboxMessage.objects.create(task_name="common.email_send", last_error="broker down")


def _zone():
    Zone.objects.create(customer=CustomerFactory(), name=f"z{Zone.objects.count()}.test")


def _dns_allowance():
    from dnszones.models import DnsAllowance

    DnsAllowance.objects.create(
        customer=CustomerFactory(),
        service_ref="svc-1",
        plan_name="Basic",
        domain_limit=1,
        record_limit=10,
    )


def _ticket():
    from support.tests.helpers import ticket_for

    ticket_for(CustomerFactory())


def _article():
    from support.models import Article, ArticleCategory

    category, _ = ArticleCategory.objects.get_or_create(slug="guides", defaults={"name": "Guides"})
    number = Article.objects.count()
    Article.objects.create(category=category, title="A guide", slug=f"guide-{number}", body="x")


def _announcement():
    from support.models import Announcement

    Announcement.objects.create(title="News", body="Body")


def _webhook_delivery():
    import uuid

    endpoint = WebhookEndpoint.objects.create(
        name="CRM", url="https://hooks.example.com/x", events=["invoice.paid"]
    )
    key = uuid.uuid4()
    WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_id=key,
        event_type="invoice.paid",
        body="{}",
        idempotency_key=f"webhook:{key}",
        retry_until=timezone.now(),
    )


BUILDERS = {
    "support_ticket": _ticket,
    "support_article": _article,
    "support_announcement": _announcement,
    "billing_tokenpurchase": _token_purchase,
    "billing_refundshortfall": _refund_shortfall,
    "invoices_invoicenotice": _invoice_notice,
    "common_outboxmessage": _outbox_message,
    "dns_zone": _zone,
    "dns_dnsallowance": _dns_allowance,
    "credits_creditaccount": _credit,
    "credits_creditentry": _credit,
    "payments_payment": _payment,
    "payments_webhookevent": _webhook_event,
    "invoices_creditnote": _credit_note,
    "accounts_customer": CustomerFactory,
    "accounts_staffnote": StaffNoteFactory,
    "accounts_user": UserFactory,
    "accounts_apikey": lambda: (
        api_key_create(user=UserFactory(), name="Integration", scopes=["read"]).api_key
    ),
    "common_auditevent": AuditEventFactory,
    "invoices_invoice": _invoice,
    "catalogue_order": lambda: Order.objects.create(customer=CustomerFactory()),
    "catalogue_product": ProductFactory,
    "catalogue_coupon": CouponFactory,
    "billing_billingrun": lambda: BillingRun.objects.create(as_of=date(2026, 1, 1)),
    "provisioning_service": _service,
    "provisioning_provisioningoperation": _operation,
    "provisioning_cancellationrequest": _cancellation,
    "provisioning_automaticbackup": _automatic_backup,
    "dns_dnsoperation": _dns_operation,
    "invoices_usagerecord": _usage,
    "common_webhookdelivery": _webhook_delivery,
    "catalogue_clientgroup": ClientGroupFactory,
    "catalogue_customergroup": CustomerGroupFactory,
}


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("model", BUILDERS)
def test_changelist_queries_do_not_grow_with_rows(client, model):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = reverse(f"admin:{model}_changelist")
    BUILDERS[model]()
    one = _queries(client, url)
    for _ in range(49):
        BUILDERS[model]()
    assert _queries(client, url) == one


# Registered lists that need no builder: tables staff fill by hand (tens of rows) and
# django-axes' own screens of login attempts.
SMALL_LISTS = {
    "auth_group",
    "common_webhookendpoint",
    "axes_accessattempt",
    "axes_accesslog",
    "axes_accessfailurelog",
    "catalogue_productgroup",
    "catalogue_configurableoption",
    "catalogue_taxrate",
    "provisioning_siteplan",
    "provisioning_servergroup",
    "provisioning_server",
    "support_department",
    "support_cannedresponse",
    "support_articlecategory",
    "common_emailtemplateoverride",  # one row per email at most
}
# Lists in BUILDERS whose order has no index, and why that is fine: products sort by their
# group's place (a join, over tens of rows); a billing run is one a day.
UNINDEXED_ORDER = {"catalogue_product", "billing_billingrun"}
# The tables that grow with customers, invoices and events (besides LARGE_TABLES below).
GROWING = {
    "accounts_staffnote",
    "support_ticket",
    "billing_tokenpurchase",
    "common_outboxmessage",
    "credits_creditaccount",
    "dns_zone",
    "dns_dnsallowance",
    "invoices_creditnote",
    "invoices_invoicenotice",
    "common_webhookdelivery",
    "catalogue_customergroup",
}


def _admin_key(model: type[Model]) -> str:
    return f"{model._meta.app_label}_{model._meta.model_name}"


def test_every_registered_list_is_declared():
    registered = {_admin_key(model) for model in admin.site._registry}
    assert registered - set(BUILDERS) - SMALL_LISTS == set(), "add a builder to BUILDERS"
    assert (set(BUILDERS) | SMALL_LISTS) - registered == set()


@pytest.mark.parametrize("model", sorted(set(BUILDERS) - UNINDEXED_ORDER))
def test_changelist_default_order_is_an_index(client, model):
    """The list's order as Django runs it (with the primary key Django adds to make it
    total) is the order of an index, so the first page reads only its rows."""
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    BUILDERS[model]()
    response = client.get(reverse(f"admin:{model}_changelist"))
    queryset = response.context["cl"].queryset
    assert index_for_order(queryset), (
        f"{model}: no index of {queryset.model._meta.db_table} in the order "
        f"{order_by_columns(queryset)}"
    )


def test_growing_lists_estimate_their_count_and_have_no_date_hierarchy():
    """date_hierarchy's year and month links read every row's date (SELECT DISTINCT
    date_trunc over the table); a date range filter offers the same without a query."""
    growing = GROWING | {_admin_key(model) for model in LARGE_TABLES}
    for model, model_admin in admin.site._registry.items():
        if _admin_key(model) in growing:
            assert isinstance(model_admin, LargeTableAdminMixin), model
            assert model_admin.date_hierarchy is None, model


# --- At 100,000 rows ------------------------------------------------------------------------

ROWS = 100_000
PAGE_READ_LIMIT = 1_000  # rows of the table one list page may read (it shows 50)


def _older(column: str) -> str:
    return f"t.{column} - g * interval '1 second'"


# The tables that grow with the business, and how a copy of a row differs from the row
# (SQL over the row `t` and the copy's number `g`): unique columns, and dates spread back.
LARGE_TABLES: dict[type[Model], dict[str, str]] = {
    Invoice: {
        "number": "'BIG-' || g",
        "sequence_number": "NULL",
        "created_at": _older("created_at"),
    },
    Payment: {"reference": "'big-' || g", "received_at": _older("received_at")},
    CreditEntry: {
        "sequence": "t.sequence + g",
        "idempotency_key": "'big-' || g",
        "balance_before": "t.balance_after + (g - 1) * t.amount",
        "balance_after": "t.balance_after + g * t.amount",
        "created_at": _older("created_at"),
    },
    AuditEvent: {"created_at": _older("created_at")},
    Service: {"created_at": _older("created_at")},
    WebhookEvent: {"event_id": "'big-' || g", "received_at": _older("received_at")},
    ProvisioningOperation: {
        "idempotency_key": "t.idempotency_key || ':big:' || g",
        "created_at": _older("created_at"),
    },
    DnsOperation: {
        "idempotency_key": "t.idempotency_key || ':big:' || g",
        "created_at": _older("created_at"),
    },
    Order: {"created_at": _older("created_at")},
    UsageRecord: {"recorded_at": _older("recorded_at")},
    TokenPurchase: {"idempotency_key": "'big-' || g", "created_at": _older("created_at")},
    OutboxMessage: {"created_at": _older("created_at")},
    Zone: {"name": "'z' || g || '.big.test'"},
    CreditNote: {
        "number": "'BIG-CN-' || g",
        "sequence_number": "t.sequence_number + g",
        "issued_at": _older("issued_at"),
    },
    User: {"email": "'big' || g || '@example.com'", "date_joined": _older("date_joined")},
    Customer: {
        "user_id": "(SELECT id FROM accounts_user WHERE email = 'big' || g || '@example.com')",
        "name": "t.name || ' ' || g",
        "created_at": _older("created_at"),
    },
}
COPIED_FIRST = {Customer: User}  # each copy of a customer takes a copied user


def _copy_newest_row(model: type[Model], copies: int, changes: dict[str, str]) -> None:
    """`copies` copies of the table's newest row, made by PostgreSQL in one statement, then
    ANALYZE, as autovacuum does after a table grows."""
    table = connection.ops.quote_name(model._meta.db_table)
    columns = [f.column for f in model._meta.concrete_fields if not f.primary_key]
    values = [changes.get(column, f"t.{connection.ops.quote_name(column)}") for column in columns]
    with connection.cursor() as cursor:
        cursor.execute(
            # Identifiers from the models' metadata, quoted: no input reaches this SQL.
            f"INSERT INTO {table} ({', '.join(map(connection.ops.quote_name, columns))}) "  # noqa: S608
            f"SELECT {', '.join(values)} FROM {table} t, generate_series(1, %s) g "
            f"WHERE t.id = (SELECT max(id) FROM {table})",
            [copies],
        )
        cursor.execute(f"ANALYZE {table}")


def _rows_read(plan: dict, table: str) -> int:
    """Rows of `table` the executed plan read (scans never executed read none)."""
    read = 0
    if plan.get("Relation Name") == table:
        seen = plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)
        read = seen * plan.get("Actual Loops", 0)
    return read + sum(_rows_read(child, table) for child in plan.get("Plans", []))


def _page(client, url: str) -> tuple[list[str], int, str]:
    """The SQL a list page ran, the row count it has and the paginator's text."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    paginator = response.content.decode().split('<p class="paginator">')[1].split("</p>")[0]
    queries = [query["sql"] for query in captured.captured_queries]
    return queries, response.context["cl"].result_count, " ".join(paginator.split())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # ANALYZE's statistics outlive a rolled-back test
@pytest.mark.parametrize("model", LARGE_TABLES, ids=lambda model: model._meta.db_table)
def test_large_changelists_at_100000_rows_read_one_page(client, model):
    opts = model._meta
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    for _ in range(10):
        BUILDERS[f"{opts.app_label}_{opts.model_name}"]()
    small, shown, text = _page(client, url)
    assert shown == model.objects.count() >= 10  # counted exactly (audit: the log-ins too)
    assert text.startswith(f"{shown} "), text
    if model in COPIED_FIRST:
        _copy_newest_row(COPIED_FIRST[model], ROWS - shown, LARGE_TABLES[COPIED_FIRST[model]])
    _copy_newest_row(model, ROWS - shown, LARGE_TABLES[model])
    queries, shown, text = _page(client, url)
    assert len(queries) == len(small), "the page's queries grow with the rows shown"
    assert abs(shown - ROWS) < ROWS // 10, f"{shown}: not an estimate of {ROWS}"
    assert f"About {shown:,} {opts.verbose_name_plural}" in text, text
    heavy = {}
    with connection.cursor() as cursor:
        for sql in queries:
            if sql.startswith("SELECT") and opts.db_table in sql:
                cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
                heavy[sql] = _rows_read(cursor.fetchone()[0][0]["Plan"], opts.db_table)
    heavy = {sql: read for sql, read in heavy.items() if read > PAGE_READ_LIMIT}
    assert not heavy, f"queries that read the whole {opts.db_table}: {heavy}"


def test_the_fast_action_checkbox_is_djangos_markup():
    """LargeTableAdminMixin writes each row's action checkbox without a widget template: the
    same HTML as Django's, escaped the same."""
    from django.contrib.admin import ModelAdmin

    customer = CustomerFactory(name='<b>"Tom" & Jerry</b>')
    model_admin = admin.site._registry[Customer]
    assert isinstance(model_admin, LargeTableAdminMixin)
    assert model_admin.action_checkbox(customer) == ModelAdmin.action_checkbox(
        model_admin, customer
    )
