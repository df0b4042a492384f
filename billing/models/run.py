"""The billing run's record: one row per run, one per chunk of its renewals."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class BillingRun(models.Model):
    """One execution of the daily billing automation, with what each step did."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        COMPLETED_WITH_ERRORS = "completed_with_errors", "Completed with errors"

    as_of = models.DateField(help_text="The day the run billed for.")
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.RUNNING)
    counts = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Set once every renewal chunk is on record (the scan for due renewals is over).
    chunks_total = models.PositiveIntegerField(null=True, blank=True)
    # Claimed by the one caller that runs the steps after the renewals (the last chunk).
    renewals_done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"Billing run for {self.as_of} ({self.get_status_display()})"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class BillingRunChunk(models.Model):
    """A chunk of a run's renewals: the groups of services one transaction renews, taken by
    one worker (or the run's own process), with what it did."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    FINISHED = (Status.DONE, Status.FAILED)

    run = models.ForeignKey(BillingRun, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField()
    # Lists of service ids, one per renewal invoice (several when renewals are combined).
    groups = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    renewed = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "number"], name="billing_billingrunchunk_unique_number"
            )
        ]

    def __str__(self) -> str:
        return f"Chunk {self.number} of run {self.run_id} ({self.get_status_display()})"

    @property
    def services(self) -> int:
        return sum(len(group) for group in self.groups)
