from django.urls import path

from billing.views import cancellation, self_service, self_service_backups, site_domains
from billing.views import provisioning as views

app_name = "provisioning"

urlpatterns = [
    path("", views.ServiceListView.as_view(), name="service_list"),
    path("<int:pk>/", views.ServiceDetailView.as_view(), name="service_detail"),
    path("<int:pk>/status/", views.ServiceStatusView.as_view(), name="service_status"),
    path("<int:pk>/login/", views.ServiceLoginView.as_view(), name="service_login"),
    path("<int:pk>/sandbox-panel/", views.SandboxPanelView.as_view(), name="sandbox_panel"),
    path("<int:pk>/change-plan/", views.ServicePlanChangeView.as_view(), name="service_change"),
    path(
        "<int:pk>/actions/<slug:name>/",
        self_service.ServiceActionView.as_view(),
        name="service_action",
    ),
    path(
        "<int:pk>/operations/<int:operation_id>/",
        self_service.ServiceOperationView.as_view(),
        name="service_operation",
    ),
    path("<int:pk>/cancel/", cancellation.ServiceCancelView.as_view(), name="service_cancel"),
    path(
        "<int:pk>/cancel/withdraw/",
        cancellation.ServiceCancelWithdrawView.as_view(),
        name="service_cancel_withdraw",
    ),
    path(
        "<int:pk>/site-domains/via-zone/",
        site_domains.SiteDomainViaZoneView.as_view(),
        name="site_domain_via_zone",
    ),
    path(
        "<int:pk>/auto-backups/",
        self_service_backups.ServiceAutoBackupsView.as_view(),
        name="service_auto_backups",
    ),
]
