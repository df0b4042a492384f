"""URL wiring, by module name only: the project imports no app. Public contracts (DESIGN.md
§5): `/`, `/accounts/…`, `/admin/`, `/api/v1/…`, `/api/schema/`, `/api/docs/`, `/healthz`;
for operators `/metrics` and `/admin/status/`."""

from django.contrib import admin
from django.urls import include, path
from django.utils.module_loading import import_string
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from billing_portal.common.throttle import throttled
from billing_portal.common.views import healthz

admin.site.site_header = admin.site.site_title = "Billing portal staff"
# The staff login is the client area's two-step login (password, then the second factor),
# counted against the same limits.
admin.site.login = throttled("login", field="username")(
    import_string("accounts.views.AdminLoginView").as_view()
)
handler400 = "billing_portal.common.views.bad_request"  # 403, 500: Django's own handlers
handler404 = "billing_portal.common.views.not_found"  # JSON under /api/

api_v1 = [
    path("", include("accounts.api.urls")),
    path("", include("billing.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("staff/", include("billing.api.staff_servers_urls")),
    path("staff/", include("billing.api.staff_billing_urls")),
    path("", include("billing.api.customer_urls")),
    path("", include("billing.api.payments_urls")),
]

urlpatterns = [
    # The dashboard, /admin/status/ (before the admin's own URLs) and /metrics.
    path("", include("billing.urls.project")),
    path("accounts/", include("accounts.urls")),
    path("admin/my-sessions/", include("accounts.urls_admin")),
    path("services/", include("billing.urls.provisioning")),
    path("invoices/", include("billing.urls.invoices")),
    path("order/", include("billing.urls.catalogue")),
    path("billing/", include("billing.urls.credits")),
    path("payments/", include("billing.urls.payments")),
    path("dns/", include("billing.urls.dns")),
    path("support/", include("support.urls")),
    path("admin/reports/", include("reports.urls")),  # before the admin's own URLs
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("payments.urls")),  # webhooks/<gateway>/
    path("healthz", healthz, name="healthz"),
]
