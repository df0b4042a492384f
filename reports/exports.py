"""Accounting exports' life: asked for by a staff user, built by a task in batches (the
page shows `rows_done` of `rows_total`), stored in the `report_exports` storage outside the
web root, handed out only to the user who asked. What each kind holds: exports_sheets.py;
the file formats: exports_writers.py.

The request queues the build through the outbox (a broker that is down delays it, never
loses it); the build claims the row with one conditional UPDATE, so a duplicate task message
does nothing, and a build whose worker died is claimed again after BUILD_STALE_AFTER.
"""

from __future__ import annotations

import logging
import os
import tempfile
from datetime import date, timedelta

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts.models import User
from billing_portal.common.audit import audit_record
from billing_portal.common.outbox import outbox_enqueue
from billing_portal.common.request import RequestMeta
from reports.audit import ReportAudit
from reports.exports_sheets import SHEETS, Sheet, sheet_batches
from reports.exports_writers import row_writer
from reports.models import ReportExport

logger = logging.getLogger(__name__)

BUILD_TASK = "reports.report_export_build"
BATCH_SIZE = 2_000  # rows read, written and counted as progress at a time
# A build still `building` after this long lost its worker (the task's time limit is lower).
BUILD_STALE_AFTER = timedelta(hours=1)
ERROR_MAX = 500


def export_storage() -> Storage:
    return storages["report_exports"]


@transaction.atomic
def report_export_request(
    *,
    user: User,
    kind: str,
    fmt: str,
    start: date,
    end: date,
    currency: str,
    meta: RequestMeta | None = None,
) -> ReportExport:
    """Queue an export for `user`. The same export (kind, format, range, currency) already
    queued or being built by them is returned instead of a second one: two clicks, one
    file."""
    same = {
        "requested_by": user,
        "kind": kind,
        "format": fmt,
        "start_date": start,
        "end_date": end,
        "currency": currency,
    }
    running = ReportExport.objects.filter(**same, status__in=ReportExport.IN_PROGRESS).first()
    if running is not None:
        return running
    export = ReportExport.objects.create(**same)
    audit_record(
        action=ReportAudit.EXPORT_REQUESTED,
        actor=user,
        target=export,
        meta=meta,
        details={"kind": kind, "format": fmt, "start": str(start), "end": str(end)},
    )
    outbox_enqueue(BUILD_TASK, kwargs={"export_id": export.pk})
    return export


def report_export_claim(*, export_id: int) -> ReportExport | None:
    """Mark the export as being built, once (None: someone else has it, or it is done)."""
    stale = timezone.now() - BUILD_STALE_AFTER
    claimable = Q(status=ReportExport.Status.PENDING) | Q(
        status=ReportExport.Status.BUILDING, started_at__lt=stale
    )
    claimed = ReportExport.objects.filter(claimable, pk=export_id).update(
        status=ReportExport.Status.BUILDING, started_at=timezone.now(), rows_done=0
    )
    if not claimed:
        return None
    return ReportExport.objects.select_related("requested_by").get(pk=export_id)


def _progress(export: ReportExport, rows_done: int) -> None:
    # Its own statement, committed at once (the build runs outside a transaction), so the
    # page sees it; the total grows if rows arrived in the range while building.
    ReportExport.objects.filter(pk=export.pk).update(
        rows_done=rows_done, rows_total=Greatest(F("rows_total"), rows_done)
    )


def _write(export: ReportExport, sheet: Sheet, path: str, batch_size: int) -> int:
    writer = row_writer(export.format, path, sheet.header, sheet.title)
    done = 0
    try:
        for batch in sheet_batches(sheet, export, size=batch_size):
            done += writer.write(sheet.rows(batch))
            _progress(export, done)
    finally:
        writer.close()
    return done


def _file_name(export: ReportExport) -> str:
    stamp = timezone.now().strftime("%Y%m%d%H%M%S")
    return (
        f"user-{export.requested_by_id}/{export.kind}-{export.start_date}-{export.end_date}"
        f"-{export.pk}-{stamp}.{export.format}"
    )


def report_export_build(*, export_id: int, batch_size: int = BATCH_SIZE) -> ReportExport | None:
    """Build a queued export (None when it was not this call's to build)."""
    export = report_export_claim(export_id=export_id)
    if export is None:
        return None
    sheet = SHEETS[export.kind]
    export.rows_total = sheet.count(export)
    ReportExport.objects.filter(pk=export.pk).update(rows_total=export.rows_total)
    handle, path = tempfile.mkstemp(suffix=f".{export.format}")
    os.close(handle)
    try:
        rows = _write(export, sheet, path, batch_size)
        with open(path, "rb") as built:
            name = export_storage().save(_file_name(export), File(built))
        return _ready(export, name=name, rows=rows, size=os.path.getsize(path))
    except Exception as error:  # any failure ends as a failed export the page shows
        logger.exception("report export %s failed", export.pk)
        return _failed(export, error)
    finally:
        os.unlink(path)


@transaction.atomic
def _ready(export: ReportExport, *, name: str, rows: int, size: int) -> ReportExport:
    export.status, export.file_name, export.size = ReportExport.Status.READY, name, size
    export.rows_done = rows
    export.rows_total = max(rows, export.rows_total)
    export.finished_at, export.error = timezone.now(), ""
    export.save(
        update_fields=[
            "status",
            "file_name",
            "size",
            "rows_done",
            "rows_total",
            "finished_at",
            "error",
        ]
    )
    audit_record(
        action=ReportAudit.EXPORT_READY,
        actor=export.requested_by,
        target=export,
        details={"rows": rows, "size": size},
    )
    return export


@transaction.atomic
def _failed(export: ReportExport, error: Exception) -> ReportExport:
    export.refresh_from_db(fields=["rows_done", "rows_total"])
    export.status, export.finished_at = ReportExport.Status.FAILED, timezone.now()
    export.error = f"{type(error).__name__}: {error}"[:ERROR_MAX]
    export.save(update_fields=["status", "finished_at", "error"])
    audit_record(
        action=ReportAudit.EXPORT_FAILED,
        actor=export.requested_by,
        target=export,
        details={"error": export.error},
    )
    return export


def report_export_for_download(*, user: User, export_id: int) -> ReportExport | None:
    """The user's own ready export with this id, or None: another user's export is as
    absent as one that does not exist."""
    return ReportExport.objects.filter(
        pk=export_id, requested_by=user, status=ReportExport.Status.READY
    ).first()


def report_export_downloaded(
    *, export: ReportExport, user: User, meta: RequestMeta | None = None
) -> None:
    audit_record(
        action=ReportAudit.EXPORT_DOWNLOADED,
        actor=user,
        target=export,
        meta=meta,
        details={"kind": export.kind, "rows": export.rows_done},
    )


def report_export_file_name(export: ReportExport) -> str:
    """The name the browser saves the file under."""
    currency = f"-{export.currency.lower()}" if export.currency else ""
    return f"{export.kind}{currency}-{export.start_date}-to-{export.end_date}.{export.format}"


# --- Housekeeping ---------------------------------------------------------------------------

PRUNE_BATCH = 1000


def report_exports_prune() -> int:
    """Daily: delete exports (their files and rows) older than REPORT_EXPORT_DAYS, accounting
    data with customers' names that should not pile up, and fail builds whose worker died;
    returns how many went. Two queries a batch of PRUNE_BATCH, whatever the rows (the audit
    events of each export stay)."""
    now = timezone.now()
    cutoff = now - timedelta(days=int(settings.REPORT_EXPORT_DAYS))
    storage = export_storage()
    pruned = 0
    while True:
        old = list(
            ReportExport.objects.filter(created_at__lt=cutoff)
            .order_by("pk")
            .values_list("pk", "file_name")[:PRUNE_BATCH]
        )
        for _pk, name in old:
            if name:
                storage.delete(name)  # a file already gone is no error
        ReportExport.objects.filter(pk__in=[pk for pk, _name in old]).delete()
        pruned += len(old)
        if len(old) < PRUNE_BATCH:
            break
    ReportExport.objects.filter(
        status__in=ReportExport.IN_PROGRESS, created_at__lt=now - BUILD_STALE_AFTER * 2
    ).update(status=ReportExport.Status.FAILED, error="The build did not finish.", finished_at=now)
    return pruned
