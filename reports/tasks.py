"""The reports' task: building one accounting export (reports/exports.py)."""

from celery import shared_task

from reports.exports import report_export_build, report_exports_prune

# A 100,000-row export takes a minute or two; the limits leave room for far larger ranges.
EXPORT_LIMITS = {"soft_time_limit": 1500, "time_limit": 1800}


@shared_task(name="reports.report_export_build", **EXPORT_LIMITS)
def report_export_build_task(export_id: int) -> str | None:
    """Build one queued export (a duplicate message finds it claimed and does nothing)."""
    export = report_export_build(export_id=export_id)
    return export.status if export else None


@shared_task(name="reports.report_exports_prune")
def report_exports_prune_task() -> int:
    """Daily: delete exports past REPORT_EXPORT_DAYS; returns how many went."""
    return report_exports_prune()
