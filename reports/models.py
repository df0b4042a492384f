from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


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


class ReportExport(models.Model):
    """An accounting export a staff user asked for: invoices (with their lines), payments,
    refunds, credit notes or ledger entries of a date range, as CSV or XLSX. Built by a task
    (reports.tasks) in batches that update `rows_done`, so the page can show how far it got
    and no request waits for 100,000 rows; the file lives in the `report_exports` storage,
    outside the web root, and only the user who asked may download it."""

    class Kind(models.TextChoices):
        INVOICES = "invoices", "Invoices (with lines)"
        PAYMENTS = "payments", "Payments"
        REFUNDS = "refunds", "Refunds"
        CREDIT_NOTES = "credit_notes", "Credit notes"
        LEDGER = "ledger", "Credit ledger entries"

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "Excel (XLSX)"

    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        BUILDING = "building", "Being built"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    IN_PROGRESS = (Status.PENDING, Status.BUILDING)

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_exports"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    format = models.CharField(max_length=8, choices=Format.choices)
    start_date = models.DateField()
    end_date = models.DateField()
    currency = models.CharField(max_length=3, blank=True, help_text="Empty: every currency.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    rows_done = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(default=0)
    file_name = models.CharField(max_length=255, blank=True)  # in the report_exports storage
    size = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [  # the user's list of their exports, newest first
            models.Index(
                fields=["requested_by", "-created_at", "-id"], name="reports_export_user_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(start_date__lte=F("end_date")), name="reports_reportexport_range"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_kind_display()} {self.start_date} to {self.end_date} "
            f"({self.get_format_display()})"
        )

    @property
    def in_progress(self) -> bool:
        return self.status in self.IN_PROGRESS

    @property
    def percent_done(self) -> int:
        if self.status == self.Status.READY:
            return 100
        return int(self.rows_done * 100 / self.rows_total) if self.rows_total else 0
