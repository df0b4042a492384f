from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """Staff insight: the admin's dashboard, reports and accounting exports. The top layer:
    it reads every app through their selectors and nothing imports it."""

    name = "reports"
    verbose_name = "Reports"
