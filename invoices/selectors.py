"""Invoice and catalogue reads for views and the API, always scoped by the caller."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from accounts.models import Customer
from invoices.models import Invoice, InvoiceLine, Order, Product, ProductGroup, ProductPrice

CUSTOMER_VISIBLE_STATUSES = [status for status in Invoice.Status.values if status != "draft"]


def invoice_list_for_customer(
    *, customer: Customer, status: str | None = None
) -> QuerySet[Invoice]:
    """The customer's issued invoices (drafts are staff work in progress), newest first."""
    invoices = Invoice.objects.filter(customer=customer, status__in=CUSTOMER_VISIBLE_STATUSES)
    if status:
        invoices = invoices.filter(status=status)
    return invoices.order_by("-issued_at", "-id")


def invoice_get_for_customer(*, customer: Customer, invoice_id: int) -> Invoice:
    """One issued invoice of this customer with its lines; Invoice.DoesNotExist otherwise."""
    lines = InvoiceLine.objects.order_by("position", "id")
    return (
        invoice_list_for_customer(customer=customer)
        .prefetch_related(Prefetch("lines", queryset=lines), "credit_notes", "payments")
        .get(pk=invoice_id)
    )


def catalogue_for_currency(*, currency: str) -> QuerySet[ProductGroup]:
    """Visible groups with their visible products and those products' prices in `currency`."""
    prices = ProductPrice.objects.filter(currency=currency).order_by("price")
    products = Product.objects.filter(is_visible=True).prefetch_related(
        Prefetch("prices", queryset=prices)
    )
    return (
        ProductGroup.objects.filter(is_visible=True, products__is_visible=True)
        .distinct()
        .prefetch_related(Prefetch("products", queryset=products))
    )


def product_get_orderable(*, slug: str) -> Product:
    """A visible product with its prices and options; Product.DoesNotExist otherwise."""
    return Product.objects.prefetch_related("prices", "options__prices").get(
        slug=slug, is_visible=True
    )


def order_get_for_customer(*, customer: Customer, order_id: int) -> Order:
    return Order.objects.get(customer=customer, pk=order_id)
