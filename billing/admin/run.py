"""Staff screen of the billing app's own record: each billing run and its renewal chunks,
read-only."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest

from billing.models import BillingRun, BillingRunChunk
from billing_portal.common.admin import ReadOnlyAdminMixin


class BillingRunChunkInline(ReadOnlyAdminMixin, admin.TabularInline):
    """Each chunk of the run's renewals: who took it, what it renewed, what failed."""

    model = BillingRunChunk
    fields = (
        "number",
        "status",
        "services",
        "renewed",
        "attempts",
        "errors",
        "started_at",
        "finished_at",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(BillingRun)
class BillingRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What each daily run did: counts per step, failed items, its chunks' progress and
    duration. Read-only."""

    list_display = (
        "as_of",
        "status",
        "started_at",
        "duration_seconds",
        "progress",
        "summary",
        "error_count",
    )
    list_filter = ("status",)
    date_hierarchy = "started_at"
    readonly_fields = (
        "as_of",
        "status",
        "progress",
        "counts",
        "errors",
        "started_at",
        "renewals_done_at",
        "finished_at",
    )
    inlines = [BillingRunChunkInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[BillingRun]:
        # the chunks' progress of every run listed, in the list's one query
        return (
            super()
            .get_queryset(request)
            .annotate(
                chunks_done=Count("chunks", filter=Q(chunks__status=BillingRunChunk.Status.DONE)),
                chunks_failed=Count(
                    "chunks", filter=Q(chunks__status=BillingRunChunk.Status.FAILED)
                ),
                chunks_seen=Count("chunks"),
            )
        )

    @admin.display(description="Chunks")
    def progress(self, run: BillingRun) -> str:
        """Done / total (failed), e.g. "4 / 7 done, 1 failed"; the total is known once the
        scan for due renewals is over."""
        total = run.chunks_total if run.chunks_total is not None else f"{run.chunks_seen}+"
        failed = f", {run.chunks_failed} failed" if run.chunks_failed else ""
        return f"{run.chunks_done} / {total} done{failed}"

    @admin.display(description="Counts")
    def summary(self, run: BillingRun) -> str:
        return ", ".join(f"{step} {count}" for step, count in run.counts.items())

    @admin.display(description="Errors")
    def error_count(self, run: BillingRun) -> int:
        return len(run.errors)
