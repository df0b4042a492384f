"""Admin forms at scale: every field that picks a customer, user, order, service, invoice or
payment is an autocomplete (a search as staff type), so a form's size does not grow with
the number of rows; the search finds by email, respects the view permission of what it
searches, and a value that is no id never answers 500."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect, RelatedFieldWidgetWrapper
from django.forms import Field
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from accounts.models import Customer, User
from accounts.tests.factories import CustomerFactory, UserFactory
from billing.admin.payments import ManualPaymentForm
from billing.admin.purchases import TokenGrantForm
from catalogue.models import Order
from catalogue.tests.factories import ProductPriceFactory
from credits.admin import CreditChangeForm
from invoices.admin_forms import ManualInvoiceForm
from invoices.models import Invoice
from payments.models import Payment
from provisioning.models import Service

pytestmark = pytest.mark.django_db

MANY = 5_000
# Tables with a row per customer or more: never offered as a whole in a <select>.
LARGE = {Customer, User, Order, Service, Invoice, Payment}


def _customers(count: int) -> list[Customer]:
    stamp = timezone.now().strftime("%H%M%S%f")
    users = User.objects.bulk_create(
        User(email=f"bulk{stamp}-{n}@example.com") for n in range(count)
    )
    return Customer.objects.bulk_create(
        Customer(user=user, name=f"Bulk Customer {stamp} {n}", country="DE")
        for n, user in enumerate(users)
    )


def _invoice(customer: Customer, status: str, number: str) -> Invoice:
    zero = Money(0, "USD")
    return Invoice(
        customer=customer,
        status=status,
        number=number,
        issued_at=timezone.now(),
        currency="USD",
        subtotal=zero,
        discount_total=zero,
        tax_total=zero,
        total=zero,
        amount_paid=zero,
        amount_refunded=zero,
    )


def _unpaid_invoices(customers: list[Customer]) -> None:
    Invoice.objects.bulk_create(
        _invoice(c, Invoice.Status.UNPAID, f"BULK-{c.pk}") for c in customers
    )


def _services(customers: list[Customer]) -> None:
    product, five = ProductPriceFactory().product, Money(Decimal("5"), "USD")
    Service.objects.bulk_create(
        Service(customer=c, product=product, cycle="monthly", currency="USD", recurring_amount=five)
        for c in customers
    )
    Order.objects.bulk_create(Order(customer=c) for c in customers)


# Admin pages with a form that picks one of many rows, and what makes them many.
PAGES: dict[str, tuple[Callable[[], str], Callable[[list[Customer]], None]]] = {
    "credit change": (lambda: reverse("admin:credits_change_credit"), lambda cs: None),
    "token grant": (lambda: reverse("admin:billing_tokenpurchase_grant"), lambda cs: None),
    "manual invoice": (lambda: reverse("admin:invoices_invoice_manual"), lambda cs: None),
    "manual payment": (lambda: reverse("admin:payments_payment_record"), _unpaid_invoices),
    "customer add": (lambda: reverse("admin:accounts_customer_add"), lambda cs: None),
    "order add": (lambda: reverse("admin:catalogue_order_add"), lambda cs: None),
    "service add": (lambda: reverse("admin:provisioning_service_add"), _services),
    "usage record add": (lambda: reverse("admin:invoices_usagerecord_add"), _services),
}


@pytest.mark.parametrize("page", PAGES)
def test_a_form_does_not_grow_with_5000_rows(admin_client, page):
    url, more = PAGES[page]
    few = _customers(1)
    more(few)
    small = len(admin_client.get(url()).content)
    many = _customers(MANY)
    more(many)
    response = admin_client.get(url())
    html = response.content.decode()
    assert response.status_code == 200
    assert len(response.content) - small < 512, f"{page} grew from {small} bytes"
    for customer in (many[0], many[-1]):
        assert customer.name not in html
        assert customer.user.email not in html


def test_the_credit_form_itself_is_a_few_kib_with_5000_customers():
    _customers(MANY)
    assert len(str(CreditChangeForm())) < 3 * 1024


@pytest.mark.parametrize(
    "form", [CreditChangeForm, TokenGrantForm, ManualInvoiceForm, ManualPaymentForm]
)
def test_the_custom_admin_forms_search_instead_of_listing(form):
    for name, field in form.base_fields.items():
        if getattr(field, "queryset", None) is not None and field.queryset.model in LARGE:
            assert isinstance(field.widget, AutocompleteSelect), f"{form.__name__}.{name}"


def _superuser_request():
    request = RequestFactory().get("/")
    request.user = UserFactory(is_staff=True, is_superuser=True)
    return request


def _saved_fields(model_admin, request) -> Iterator[tuple[str, Field]]:
    """The fields of the add and change forms (and their inlines') staff can save."""
    for change, allowed in (
        (False, model_admin.has_add_permission(request)),
        (True, model_admin.has_change_permission(request)),
    ):
        if allowed:
            yield from model_admin.get_form(request, None, change=change).base_fields.items()
    for inline in model_admin.get_inline_instances(request):
        formset = inline.get_formset(request)
        # its link to the parent is a hidden field, not a choice
        yield from ((n, f) for n, f in formset.form.base_fields.items() if n != formset.fk.name)


def test_every_admin_form_searches_customers_services_invoices_and_payments():
    """In every admin and inline, a field choosing a row of a large table is an
    autocomplete (read-only fields choose nothing)."""
    request, listed = _superuser_request(), []
    for model, model_admin in admin.site._registry.items():
        for name, field in _saved_fields(model_admin, request):
            widget = field.widget
            if isinstance(widget, RelatedFieldWidgetWrapper):
                widget = widget.widget
            target = getattr(getattr(field, "queryset", None), "model", None)
            if target in LARGE and not isinstance(widget, AutocompleteSelect):
                listed.append(f"{model._meta.label}.{name}")
    assert not listed, f"these list every row in a <select>: {listed}"


def _autocomplete(client: Client, term: str, source: str = "credits.creditaccount.customer"):
    app_label, model_name, field_name = source.split(".")
    return client.get(
        reverse("admin:autocomplete"),
        {"app_label": app_label, "model_name": model_name, "field_name": field_name, "term": term},
    )


def test_the_customer_search_finds_one_of_5000_by_email(admin_client):
    wanted = _customers(MANY)[1234]
    response = _autocomplete(admin_client, wanted.user.email)
    assert response.status_code == 200
    assert response.json()["results"] == [{"id": str(wanted.pk), "text": str(wanted)}]


def test_the_search_answers_only_staff_who_may_view_customers(staff_client_factory):
    wanted = CustomerFactory()
    may_credit = staff_client_factory("change_credit")
    assert may_credit.get(reverse("admin:credits_change_credit")).status_code == 200
    assert _autocomplete(may_credit, wanted.user.email).status_code == 403
    may_view = staff_client_factory("change_credit", "view_customer")
    assert _autocomplete(may_view, wanted.user.email).json()["results"][0]["id"] == str(wanted.pk)


def test_the_payment_form_searches_unpaid_invoices_only(admin_client):
    customer = CustomerFactory(name="Ada Lovelace")
    unpaid, paid = Invoice.objects.bulk_create(
        _invoice(customer, status, f"N-{status}")
        for status in (Invoice.Status.UNPAID, Invoice.Status.PAID)
    )
    response = _autocomplete(admin_client, "Lovelace", "payments.payment.invoice")
    assert [row["id"] for row in response.json()["results"]] == [str(unpaid.pk)]
    # the invoice list's own search still finds both
    changelist = admin_client.get(reverse("admin:invoices_invoice_changelist"), {"q": "Lovelace"})
    assert set(changelist.context["cl"].result_list) == {unpaid, paid}


@pytest.mark.parametrize("value", ["abc", "1.5", "99999999999999999999999", "-1", "\x00"])
def test_a_value_that_is_no_id_is_refused_not_a_500(admin_client, value):
    url = reverse("admin:credits_change_credit")
    assert admin_client.get(url, {"customer": value}).status_code == 200
    data = {
        "customer": value,
        "direction": "add",
        "amount": "5",
        "currency": "USD",
        "reason": "x",
        "request_key": "k",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert response.context["form"].errors["customer"]
    order = Order.objects.create(customer=CustomerFactory())
    change = reverse("admin:catalogue_order_change", args=[order.pk])
    assert admin_client.post(change, {"customer": value, "status": "pending"}).status_code == 200
