"""/admin/reports/: the staff report pages and accounting exports. The project mounts them
before the admin's own URLs (whose app pattern would take "reports"); admin_view makes each
a staff page (login, CSRF, no caching), the views check the reports' permissions."""

from django.contrib import admin
from django.urls import path

from reports import views

app_name = "reports"

urlpatterns = [
    path("", admin.site.admin_view(views.reports_index), name="index"),
    path("exports/", admin.site.admin_view(views.exports_page), name="exports"),
    path(
        "exports/<int:export_id>/download/",
        admin.site.admin_view(views.export_download),
        name="export_download",
    ),
    path("<slug:slug>/", admin.site.admin_view(views.report_page), name="report"),
]
