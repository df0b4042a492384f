"""The project's pages that read or serve several apps: the client dashboard, the staff status
page and the metrics; billing_portal/urls.py mounts them by name, importing no app."""

from django.contrib import admin
from django.urls import path

from billing import status
from billing.views.dashboard import DashboardView

urlpatterns = [
    path("", DashboardView.as_view(), name="dashboard"),
    # Before the admin's own URLs (the project includes this first), whose app pattern would
    # take "status".
    path("admin/status/", admin.site.admin_view(status.system_status), name="system-status"),
    path("metrics", status.metrics, name="metrics"),
]
