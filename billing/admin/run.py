"""Staff screen of the billing app's own record: each billing run, read-only."""

from __future__ import annotations

from django.contrib import admin

from billing.models import BillingRun
from billing_portal.common.admin import ReadOnlyAdminMixin


@admin.register(BillingRun)
class BillingRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What each daily run did: counts per step, failed items and duration. Read-only."""

    list_display = ("as_of", "status", "started_at", "duration_seconds", "summary", "error_count")
    list_filter = ("status",)
    date_hierarchy = "started_at"
    readonly_fields = ("as_of", "status", "counts", "errors", "started_at", "finished_at")

    @admin.display(description="Counts")
    def summary(self, run: BillingRun) -> str:
        return ", ".join(f"{step} {count}" for step, count in run.counts.items())

    @admin.display(description="Errors")
    def error_count(self, run: BillingRun) -> int:
        return len(run.errors)
