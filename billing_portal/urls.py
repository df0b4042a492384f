"""URL wiring. Public contracts (DESIGN.md §5): `/`, `/accounts/…`, `/admin/`, `/api/v1/…`,
`/api/schema/`, `/api/docs/`, `/healthz`; for operators `/metrics` and `/admin/status/`."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from billing.views.dashboard import DashboardView
from billing_portal import status
from billing_portal.common.throttle import throttled
from billing_portal.common.views import healthz
from payments.webhooks import webhook_urls

admin.site.site_header = admin.site.site_title = "Billing portal staff"
# The staff login counts against the same limits as the client area's.
admin.site.login = throttled("login", field="username")(admin.site.login)
handler400 = "billing_portal.common.views.bad_request"  # 403, 404, 500: Django's own handlers

api_v1 = [
    path("", include("accounts.api.urls")),
]

urlpatterns = [
    path("", DashboardView.as_view(), name="dashboard"),
    path("accounts/", include("accounts.urls")),
    path("services/", include("billing.urls.provisioning")),
    path("invoices/", include("billing.urls.invoices")),
    path("order/", include("billing.urls.catalogue")),
    path("billing/", include("billing.urls.credits")),
    path("payments/", include("billing.urls.payments")),
    path("dns/", include("billing.urls.dns")),
    # Before the admin's own URLs, whose app pattern would take "status".
    path("admin/status/", admin.site.admin_view(status.system_status), name="system-status"),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    *webhook_urls(),  # webhooks/<gateway>/
    path("healthz", healthz, name="healthz"),
    path("metrics", status.metrics, name="metrics"),
]
