from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ReportsConfig(AppConfig):
    """Staff insight: the admin's dashboard, reports and accounting exports. The top layer:
    it reads every app through their selectors and nothing imports it."""

    name = "reports"
    verbose_name = "Reports"


class PortalAdminConfig(admin_apps.AdminConfig):
    """Django's admin (label `admin`) with the portal's site, whose index is the staff
    dashboard (reports/dashboard.py). INSTALLED_APPS names it in place of
    django.contrib.admin; `default = False` keeps "reports" meaning ReportsConfig."""

    default = False
    default_site = "reports.dashboard.PortalAdminSite"
