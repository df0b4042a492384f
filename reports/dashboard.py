"""The staff home: the admin's index page opens on a dashboard.

`PortalAdminSite` is Django's AdminSite with a richer index (`reports.apps.PortalAdminConfig`
makes it the default site, so `admin.site` and every registered screen and URL stay as they
were). The page shows, to any staff user, today's attention list (each item only to those who
may view its model, linked to its admin list filtered the same way), and to staff with
`reports.view_reports` the key figures and charts. The app list follows below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse

from billing.models import TokenPurchase
from invoices.models import Invoice
from payments.models import WebhookEvent
from provisioning.models import CancellationRequest, ProvisioningOperation, Server
from reports import charts, selectors
from support.models import Ticket

VIEW_REPORTS = "reports.view_reports"


@dataclass(frozen=True)
class AttentionItem:
    key: str
    label: str
    count: int
    url: str


# key: (what, the model staff handle it in, the admin list's filter as a query string).
ATTENTION: dict[str, tuple[str, type[Model], str]] = {
    "failed_operations": (
        "Failed provisioning operations",
        ProvisioningOperation,
        "status__exact=failed",
    ),
    "failed_webhooks": ("Payment webhook events that failed", WebhookEvent, "status__exact=failed"),
    # {today} is filled in: the list shows the same invoices the count counts.
    "overdue_invoices": (
        "Overdue invoices",
        Invoice,
        "status__exact=unpaid&due_date__lt={today}",
    ),
    "overdue_tickets": ("Tickets past their response target", Ticket, "overdue=yes"),
    "servers_offline": ("Servers offline", Server, "is_active__exact=1&is_online__exact=0"),
    "servers_crowded": (
        "Servers above 80% of their capacity",
        Server,
        "is_active__exact=1&capacity_alerted_at__isnull=False",
    ),
    "token_purchases": (
        "VPS token purchases needing a check",
        TokenPurchase,
        "status__in=uncertain,failed",
    ),
    "cancellation_requests": (
        "Cancellation requests",
        CancellationRequest,
        "status__exact=requested",
    ),
}


def _may_view(site: admin.AdminSite, request: HttpRequest, model: type[Model]) -> bool:
    model_admin = site._registry.get(model)
    return model_admin is not None and model_admin.has_view_permission(request)


def attention_list(
    site: admin.AdminSite, request: HttpRequest, periods: selectors.Periods
) -> list[AttentionItem]:
    """Today's attention list, of what the user may view (one query per item)."""
    keys = [key for key, (_, model, _) in ATTENTION.items() if _may_view(site, request, model)]
    counts = selectors.attention_counts(now=periods.now, keys=keys)
    items = []
    for key in keys:
        label, model, query = ATTENTION[key]
        opts = model._meta
        url = reverse(f"{site.name}:{opts.app_label}_{opts.model_name}_changelist")
        query = query.format(today=periods.today.isoformat())
        items.append(AttentionItem(key, label, counts[key], f"{url}?{query}"))
    return items


def key_figures(periods: selectors.Periods) -> dict[str, Any]:
    """The figures and charts of staff with reports.view_reports (a query each)."""
    moments = periods.month_ends()
    mrr = selectors.mrr_by_currency(moments=moments)
    revenue = selectors.revenue_by_month(periods=periods)
    receivables = selectors.receivables_by_currency(periods=periods)
    credit = selectors.credit_liability_by_currency(at=periods.month_start)
    flow = selectors.service_flow(periods=periods)
    groups = selectors.server_utilisation_by_group()
    return {
        "currencies": selectors.currency_figures(
            periods=periods, mrr=mrr, revenue=revenue, receivables=receivables, credit=credit
        ),
        "services": selectors.service_figures(flow),
        "by_kind": selectors.services_in_service_by_kind(at=periods.now),
        "charts": [
            *charts.revenue_chart(revenue, periods.months),
            charts.mrr_chart(mrr, periods.months),
            charts.service_flow_chart(flow, periods.months),
            charts.ageing_chart(receivables),
            charts.utilisation_chart(groups),
        ],
    }


def dashboard_context(site: admin.AdminSite, request: HttpRequest) -> dict[str, Any]:
    periods = selectors.Periods.at()
    context: dict[str, Any] = {
        "periods": periods,
        "attention": attention_list(site, request, periods),
        "may_view_reports": request.user.has_perm(VIEW_REPORTS),
    }
    if context["may_view_reports"]:
        context.update(key_figures(periods))
    return context


class PortalAdminSite(admin.AdminSite):
    """Django's admin site, whose index is the staff dashboard."""

    index_template = "reports/dashboard.html"

    def index(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        context = {**dashboard_context(self, request), **(extra_context or {})}
        return super().index(request, extra_context=context)
