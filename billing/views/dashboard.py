"""The client area's dashboard: the customer's figures from each app's selectors. It spans
the apps, so it lives at the top layer (it was accounts' until issue 13)."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.views.generic import TemplateView

from accounts.mixins import CustomerRequiredMixin
from accounts.selectors import audit_event_list_for_customer
from credits.selectors import credit_balances_for_customer
from invoices.selectors import (
    amounts_due_for_customer,
    invoice_list_for_customer,
    invoice_next_due_for_customer,
)
from provisioning.selectors import service_counts_for_customer, services_setting_up_for_customer
from provisioning.services.tokens import token_balance_get, token_currency
from support.selectors import announcement_list_published

DASHBOARD_RECENT_EVENTS = 5
DASHBOARD_LATEST_INVOICES = 5
DASHBOARD_SETTING_UP = 10
DASHBOARD_ANNOUNCEMENTS = 3


class DashboardView(CustomerRequiredMixin, TemplateView):
    """The customer's figures from each app's selectors: services by status, what is due,
    credit and VPS tokens, the latest invoices, services being set up, recent activity, the
    latest announcements. A fixed number of queries however many services and invoices
    there are; the token balance comes from the cache or one short call to VirtFusion, and
    an unreachable VirtFusion is shown as such."""

    template_name = "accounts/dashboard.html"

    def get_context_data(self, **kwargs) -> dict:
        customer = self.customer
        context = super().get_context_data(**kwargs)
        context["customer"] = customer
        context["service_counts"] = service_counts_for_customer(customer=customer)
        context["setting_up"] = services_setting_up_for_customer(customer=customer)[
            :DASHBOARD_SETTING_UP
        ]
        context["amounts_due"] = amounts_due_for_customer(customer=customer)
        context["next_invoice"] = invoice_next_due_for_customer(customer=customer)
        context["latest_invoices"] = invoice_list_for_customer(customer=customer)[
            :DASHBOARD_LATEST_INVOICES
        ]
        context["balance"], context["other_balances"] = credit_balances_for_customer(
            customer=customer
        )
        context["token_balance"] = token_balance_get(customer=customer)
        context["token_currency"] = token_currency()
        context["tokens_per_unit"] = settings.VIRTFUSION_TOKENS_PER_UNIT
        context["recent_events"] = audit_event_list_for_customer(customer=customer)[
            :DASHBOARD_RECENT_EVENTS
        ]
        context["activity_url"] = reverse("accounts:activity_list")
        context["announcements"] = announcement_list_published()[:DASHBOARD_ANNOUNCEMENTS]
        return context
