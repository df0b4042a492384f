from django.db import models


class Report(models.Model):
    """No table: the holder of the reports' permissions (Django keeps permissions per
    model). `view_reports` opens the dashboard's figures, charts and report pages;
    `export_reports` builds accounting exports."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("view_reports", "View the dashboard figures and reports"),
            ("export_reports", "Export invoices, payments and ledger entries"),
        ]

    def __str__(self) -> str:
        return "Reports"
