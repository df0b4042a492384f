"""The customer API's self-service, ordering and DNS URLs under /api/v1/ (namespace `api`)."""

from django.urls import path

from billing.api import dns_api as dns
from billing.api import orders_api as orders
from billing.api import services_api as services

service = "services/<int:pk>/"

urlpatterns = [
    path(f"{service}actions/", services.ServiceActionListApi.as_view(), name="service_actions"),
    path(
        f"{service}actions/<slug:name>/",
        services.ServiceActionApi.as_view(),
        name="service_action",
    ),
    path(
        f"{service}operations/<int:operation_id>/",
        services.ServiceOperationApi.as_view(),
        name="service_operation",
    ),
    path(
        f"{service}site-domains/via-zone/",
        services.ServiceSiteDomainViaZoneApi.as_view(),
        name="service_site_domain_via_zone",
    ),
    path(f"{service}login/", services.ServiceLoginApi.as_view(), name="service_login"),
    path(
        f"{service}auto-backups/",
        services.ServiceAutoBackupsApi.as_view(),
        name="service_auto_backups",
    ),
    path(f"{service}change-plan/", services.ServicePlanChangeApi.as_view(), name="service_change"),
    path(
        f"{service}cancel/quote/",
        services.ServiceCancellationQuoteApi.as_view(),
        name="service_cancel_quote",
    ),
    path(f"{service}cancel/", services.ServiceCancellationApi.as_view(), name="service_cancel"),
    path(
        f"{service}cancel/withdraw/",
        services.ServiceCancellationWithdrawApi.as_view(),
        name="service_cancel_withdraw",
    ),
    path("catalogue/", orders.CatalogueApi.as_view(), name="catalogue"),
    path("orders/quote/", orders.OrderQuoteApi.as_view(), name="order_quote"),
    path("orders/", orders.OrderPlaceApi.as_view(), name="order_place"),
    path("invoices/<int:pk>/pdf/", orders.InvoicePdfApi.as_view(), name="invoice_pdf"),
    path("dns/plans/", dns.DnsPlanListApi.as_view(), name="dns_plans"),
    path("dns/plans/<int:pk>/quote/", dns.DnsPlanQuoteApi.as_view(), name="dns_plan_quote"),
    path("dns/subscription/", dns.DnsSubscriptionApi.as_view(), name="dns_subscription"),
    path(
        "dns/subscription/cancel/",
        dns.DnsSubscriptionCancelApi.as_view(),
        name="dns_subscription_cancel",
    ),
    path("dns/zones/", dns.DnsZoneListApi.as_view(), name="dns_zones"),
    path("dns/zones/<int:pk>/", dns.DnsZoneDetailApi.as_view(), name="dns_zone"),
    path("dns/zones/<int:pk>/records/", dns.DnsRecordListApi.as_view(), name="dns_records"),
    path(
        "dns/zones/<int:pk>/records/<int:record_id>/",
        dns.DnsRecordDetailApi.as_view(),
        name="dns_record",
    ),
]
