"""The kernel's own records: the portal's backups of itself."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q


class PortalBackup(models.Model):
    """One run of `manage.py backup` (or its daily task): the file written, or why none was.
    Written when the run ends, so a backup never contains its own record. Also carries the
    permission to see the system status page and /metrics."""

    class Status(models.TextChoices):
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    status = models.CharField(max_length=10, choices=Status.choices)
    file_name = models.CharField(max_length=255, blank=True)
    size_bytes = models.PositiveBigIntegerField(default=0)
    database_vendor = models.CharField(max_length=20)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        permissions = [("monitor_system", "Can see the system status page and /metrics")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["succeeded", "failed"]),
                name="common_portalbackup_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(finished_at__gte=F("started_at")),
                name="common_portalbackup_finished_after_start",
            ),
            models.CheckConstraint(
                condition=Q(status="failed") | ~Q(file_name=""),
                name="common_portalbackup_success_has_file",
            ),
        ]

    def __str__(self) -> str:
        return f"Backup of {self.started_at:%Y-%m-%d %H:%M} ({self.get_status_display()})"
