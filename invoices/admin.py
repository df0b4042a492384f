"""Staff screens for invoice notices, usage records and credit notes (orders are the
catalogue's admin).

The Invoice admin (issue and cancel actions, manual invoices, credit notes) is billing's, as
issuing goes through billing: billing/admin/invoices.py.
"""

from __future__ import annotations

from django.contrib import admin

from billing_portal.common.admin import (
    AutocompleteAdminMixin,
    LargeTableAdminMixin,
    ReadOnlyAdminMixin,
    values_filter,
)
from catalogue.models import Product
from invoices.models import (
    CreditNote,
    InvoiceNotice,
    UsageRecord,
)


@admin.register(InvoiceNotice)
class InvoiceNoticeAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("invoice", "kind", "fee_invoice", "created_at")
    list_filter = ("kind",)
    search_fields = ("invoice__number",)
    list_select_related = ("invoice", "fee_invoice")


def _usage_metrics() -> list[tuple[str, str]]:
    """The metrics products bill (asked of the products, not of every usage record)."""
    metrics = Product.objects.exclude(usage_metric="").values_list("usage_metric", flat=True)
    return [(metric, metric) for metric in sorted(set(metrics))]


@admin.register(UsageRecord)
class UsageRecordAdmin(LargeTableAdminMixin, AutocompleteAdminMixin, admin.ModelAdmin):
    list_display = ("service", "metric", "quantity", "recorded_at")
    list_filter = (values_filter("metric", "metric", _usage_metrics),)
    list_select_related = ("service__product",)
    autocomplete_fields = ("service",)


@admin.register(CreditNote)
class CreditNoteAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("number", "invoice", "customer", "amount", "issued_at", "created_by")
    # Date ranges without a query (date_hierarchy would read every row's date).
    list_filter = (("issued_at", admin.DateFieldListFilter),)
    search_fields = ("number", "invoice__number", "customer__name")
    list_select_related = ("invoice", "customer", "created_by")
