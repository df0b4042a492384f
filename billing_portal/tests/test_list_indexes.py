"""Every list a customer sees is read in the order of an index: the list's filter column
(the customer, or what it owns) then its ORDER BY, so a page of it is an index range however
many rows the table has. A new selector returning a queryset must be declared here, and
fails while its order has no index."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db.models import QuerySet

from accounts.selectors import (
    api_key_list_for_user,
    audit_event_list_for_customer,
    audit_events_about_customer,
    customer_list_for_staff,
    staff_notes_for_customer,
    user_session_list_for_user,
)
from accounts.tests.factories import CustomerFactory
from billing.selectors import token_purchase_list_for_staff, token_purchases_for_customer
from billing_portal.common.testing import index_for_order, order_by_columns, usd
from credits.selectors import credit_accounts_for_customer, credit_entries_for_customer
from credits.services import credit_entry_append
from dnszones.models import Zone
from dnszones.selectors import records_of_zone, zones_for_customer
from invoices.selectors import (
    invoice_list_for_customer,
    invoice_list_for_staff,
    usage_records_for_service,
)
from payments.selectors import (
    card_list_for_customer,
    payment_list_for_customer,
    payment_list_for_staff,
    subscription_list_for_customer,
)
from provisioning.selectors import (
    operation_queue_for_staff,
    service_list_for_customer,
    service_list_for_staff,
    services_setting_up_for_customer,
)
from provisioning.tests.factories import ServerFactory, service_on
from support.models import ArticleCategory
from support.selectors import (
    announcement_list_published,
    article_list_for_category,
    ticket_list_for_customer,
    ticket_messages_for_customer,
    ticket_messages_for_staff,
)
from support.tests.helpers import ticket_for

pytestmark = pytest.mark.django_db

CUSTOMER = ("customer_id",)

# selector -> (the list as a view asks for it, the columns it filters on with "=").
CLIENT_LISTS: dict[str, tuple[Callable[[SimpleNamespace], QuerySet], tuple[str, ...]]] = {
    "invoice_list_for_customer": (lambda w: invoice_list_for_customer(customer=w.c), CUSTOMER),
    "invoice_list_for_customer(status)": (
        lambda w: invoice_list_for_customer(customer=w.c, status="unpaid"),
        CUSTOMER,
    ),
    "payment_list_for_customer": (lambda w: payment_list_for_customer(customer=w.c), CUSTOMER),
    "card_list_for_customer": (lambda w: card_list_for_customer(customer=w.c), CUSTOMER),
    # Entries belong to the customer's accounts (one per currency): per account, in order.
    "credit_entries_for_customer": (
        lambda w: credit_entries_for_customer(customer=w.c),
        ("account_id",),
    ),
    "credit_entries_for_customer(kind)": (
        lambda w: credit_entries_for_customer(customer=w.c, kind="purchase"),
        ("account_id",),
    ),
    "credit_accounts_for_customer": (
        lambda w: credit_accounts_for_customer(customer=w.c),
        CUSTOMER,
    ),
    "token_purchases_for_customer": (
        lambda w: token_purchases_for_customer(customer=w.c),
        CUSTOMER,
    ),
    "api_key_list_for_user": (
        lambda w: api_key_list_for_user(user=w.c.user),
        ("user_id",),
    ),
    "audit_event_list_for_customer": (
        lambda w: audit_event_list_for_customer(customer=w.c),
        CUSTOMER,
    ),
    # staff screens (the customer summary): the same per-customer lists, staff-only rows too
    "audit_events_about_customer": (
        lambda w: audit_events_about_customer(customer=w.c),
        CUSTOMER,
    ),
    "staff_notes_for_customer": (lambda w: staff_notes_for_customer(customer=w.c), CUSTOMER),
    # A user's signed-in sessions (the customer's user, or a staff user's own).
    "user_session_list_for_user": (
        lambda w: user_session_list_for_user(user=w.c.user),
        ("user_id",),
    ),
    "service_list_for_customer": (lambda w: service_list_for_customer(customer=w.c), CUSTOMER),
    "service_list_for_customer(status)": (
        lambda w: service_list_for_customer(customer=w.c, status="active"),
        CUSTOMER,
    ),
    "services_setting_up_for_customer": (
        lambda w: services_setting_up_for_customer(customer=w.c),
        CUSTOMER,
    ),
    "zones_for_customer": (lambda w: zones_for_customer(customer=w.c), CUSTOMER),
    "ticket_list_for_customer": (lambda w: ticket_list_for_customer(customer=w.c), CUSTOMER),
    # A ticket's conversation, oldest first (the customer's without internal notes).
    "ticket_messages_for_customer": (
        lambda w: ticket_messages_for_customer(ticket=w.ticket),
        ("ticket_id",),
    ),
    "ticket_messages_for_staff": (
        lambda w: ticket_messages_for_staff(ticket=w.ticket),
        ("ticket_id",),
    ),
    "records_of_zone": (lambda w: records_of_zone(zone=w.zone), ("zone_id",)),
    "records_of_zone(search)": (
        lambda w: records_of_zone(zone=w.zone, name="www", type="A"),
        ("zone_id",),
    ),
    # The staff API's list of every customer's services, newest first.
    "service_list_for_staff": (lambda w: service_list_for_staff(), ()),
    # The staff API's lists (issue 17): every row of a table, newest first (or by name),
    # and a service's usage records.
    "customer_list_for_staff": (lambda w: customer_list_for_staff(), ()),
    "invoice_list_for_staff": (lambda w: invoice_list_for_staff(), ()),
    "payment_list_for_staff": (lambda w: payment_list_for_staff(), ()),
    "token_purchase_list_for_staff": (lambda w: token_purchase_list_for_staff(), ()),
    "operation_queue_for_staff": (lambda w: operation_queue_for_staff(), ()),
    "usage_records_for_service": (
        lambda w: usage_records_for_service(service_id=service_on(ServerFactory()).pk),
        ("service_id",),
    ),
    "subscription_list_for_customer": (
        lambda w: subscription_list_for_customer(customer=w.c),
        CUSTOMER,
    ),
    # The knowledge base: a category's published articles by title; announcements, newest
    # first (everyone's, published by now: a range of the index's first column).
    "article_list_for_category": (
        lambda w: article_list_for_category(category=w.category),
        ("category_id", "status"),
    ),
    "announcement_list_published": (lambda w: announcement_list_published(), ()),
}

# Selectors returning a queryset that is no growing list of a customer's: the catalogue
# (products staff create, tens of rows) and the servers a product may be placed on.
NOT_CUSTOMER_LISTS = {
    "catalogue_for_currency",
    "products_of_module",
    "product_alternatives",
    "servers_with_room",
    "_with_resources",  # servers_with_room's filter by memory, disk and CPU
    # the support desk's departments and canned responses (staff create, tens of rows)
    "departments_offered",
    "canned_responses_for",
    "_with_attachments",  # the conversation selectors' prefetch of files
    "server_list_for_staff",  # the panel servers (staff add them, tens of rows)
    "catalogue_products_for_currency",  # the API's catalogue
    # the knowledge base's categories (staff create, tens of rows), its base filter, and the
    # search, ranked by relevance over the matches its GIN index finds (support/search.py)
    "article_categories_listed",
    "_published_articles",
    "article_search",
}


@pytest.fixture
def world() -> SimpleNamespace:
    customer = CustomerFactory()
    credit_entry_append(  # an account: credit lists filter on the customer's accounts
        customer=customer, amount=usd("5"), kind="admin_add", idempotency_key="k"
    )
    return SimpleNamespace(
        c=customer,
        zone=Zone.objects.create(customer=customer, name="a.test"),
        ticket=ticket_for(customer),
        category=ArticleCategory.objects.create(name="Guides", slug="guides"),
    )


@pytest.mark.parametrize("selector", CLIENT_LISTS)
def test_each_client_list_is_read_in_the_order_of_an_index(world, selector):
    make, equal = CLIENT_LISTS[selector]
    queryset = make(world)
    order = order_by_columns(queryset)
    assert order, f"{selector}: no ORDER BY, so pages are in no defined order"
    assert order[-1][0] == "id" or _unique_order(queryset), f"{selector}: no tie-breaker"
    sql = str(queryset.query)
    table = queryset.model._meta.db_table
    assert all(f'"{table}"."{column}"' in sql for column in equal), sql
    assert index_for_order(queryset, equal=equal), (
        f"{selector}: no index of {table} on {equal} then {order}"
    )


def _unique_order(queryset: QuerySet) -> bool:
    """Whether the ORDER BY columns are unique together (no tie to break)."""
    columns = {column for column, _ in order_by_columns(queryset)}
    meta = queryset.model._meta
    unique = [
        {meta.get_field(f).column for f in c.fields}
        for c in meta.total_unique_constraints
        if not c.condition
    ]
    unique += [{f.column} for f in meta.concrete_fields if f.unique]
    filtered = {"customer_id", "zone_id", "account_id"}
    return any(fields <= columns | filtered for fields in unique)


def test_every_selector_returning_a_queryset_is_declared():
    declared = {name.split("(")[0] for name in CLIENT_LISTS} | NOT_CUSTOMER_LISTS
    found = set()
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.selectors")
        except ModuleNotFoundError:
            continue
        for name, function in inspect.getmembers(module, inspect.isfunction):
            returns = str(inspect.signature(function).return_annotation)
            if function.__module__ == module.__name__ and "QuerySet" in returns:
                found.add(name)
    assert found - declared == set(), "declare the new list in CLIENT_LISTS (with its index)"
    assert declared - found == set()
