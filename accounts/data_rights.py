"""A customer's data rights, as far as accounts holds them: the data export's life (asked
for, built, ready with a signed link, downloaded, expired) and the anonymising of the user and
customer profile when staff erase a customer.

What goes into the archive, and the order of an erasure (panel accounts terminated, cards
removed at the gateway, then this), span every app: billing.services.data_rights. Archives
live in the `data_exports` storage (settings.STORAGES), never under the web root; the only
way to one is the export's download view, for its own customer, with a link signed here.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.audit import AccountAudit
from accounts.errors import AccountError
from accounts.locks import customer_lock, user_lock
from accounts.models import Customer, DataExport, Passkey, StaffNote, User, UserSession
from billing_portal.common.audit import audit_record
from billing_portal.common.emails import email_send_on_commit
from billing_portal.common.outbox import outbox_enqueue
from billing_portal.common.request import RequestMeta

logger = logging.getLogger(__name__)

BUILD_TASK = "billing.data_export_build"  # billing builds the archive: it reads every app
SIGNING_SALT = "accounts.data_export"
# A build still `building` after this long lost its worker (the task's time limit is lower).
BUILD_STALE_AFTER = timedelta(hours=1)
ERASED_DOMAIN = "erased.invalid"  # RFC 2606: never deliverable


class DataExportInProgress(AccountError):
    code = "data_export_in_progress"
    default_message = "Your archive is already being prepared; we email you when it is ready."


def export_storage() -> Storage:
    return storages["data_exports"]


def export_days() -> int:
    return int(settings.DATA_EXPORT_DAYS)


# --- The export's life ----------------------------------------------------------------------


def data_export_latest(*, customer: Customer) -> DataExport | None:
    return DataExport.objects.filter(customer=customer).order_by("-requested_at", "-id").first()


@transaction.atomic
def data_export_request(*, customer: Customer, meta: RequestMeta | None = None) -> DataExport:
    """Queue a new archive; refused while one is queued or being built (one at a time, also
    by the database's partial unique constraint, so two clicks make one)."""
    customer_lock(customer.pk)
    if DataExport.objects.filter(customer=customer, status__in=DataExport.IN_PROGRESS).exists():
        raise DataExportInProgress()
    try:
        with transaction.atomic():
            export = DataExport.objects.create(customer=customer)
    except IntegrityError as error:  # a concurrent request won (only without the lock)
        raise DataExportInProgress() from error
    audit_record(
        action=AccountAudit.DATA_EXPORT_REQUESTED,
        actor=customer.user,
        customer=customer,
        target=export,
        meta=meta,
    )
    # Through the outbox: a broker that is down delays the archive, never loses it.
    outbox_enqueue(BUILD_TASK, kwargs={"export_id": export.pk})
    return export


def data_export_claim(*, export_id: int) -> DataExport | None:
    """Mark a queued export as being built, once: a duplicate task message finds it claimed
    and gets None (one conditional UPDATE, so no row lock is needed)."""
    claimed = DataExport.objects.filter(pk=export_id, status=DataExport.Status.PENDING).update(
        status=DataExport.Status.BUILDING, started_at=timezone.now()
    )
    if not claimed:
        return None
    return DataExport.objects.select_related("customer__user").get(pk=export_id)


@transaction.atomic
def data_export_store(*, export: DataExport, content: bytes) -> DataExport:
    """Save the built archive, mark the export ready and email the customer its link."""
    storage = export_storage()
    stamp = timezone.now().strftime("%Y%m%d%H%M%S")
    name = storage.save(
        f"customer-{export.customer_id}/export-{export.pk}-{stamp}.zip", ContentFile(content)
    )
    now = timezone.now()
    export.status = DataExport.Status.READY
    export.file_name, export.size = name, len(content)
    export.finished_at, export.expires_at = now, now + timedelta(days=export_days())
    export.save(update_fields=["status", "file_name", "size", "finished_at", "expires_at"])
    customer = export.customer
    audit_record(
        action=AccountAudit.DATA_EXPORT_READY,
        customer=customer,
        target=export,
        details={"size": export.size},
    )
    email_send_on_commit(
        to=[customer.user.email],
        name="account_data_export_ready",
        context={
            "customer_name": customer.name,
            "download_url": settings.PORTAL_BASE_URL + data_export_download_path(export),
            "days": export_days(),
        },
    )
    return export


@transaction.atomic
def data_export_fail(*, export_id: int, error: str) -> None:
    """The build failed: the customer may ask again (and staff see why in the audit log)."""
    export = DataExport.objects.select_related("customer").get(pk=export_id)
    if not export.in_progress:
        return
    export.status, export.error = DataExport.Status.FAILED, error[:2000]
    export.finished_at = timezone.now()
    export.save(update_fields=["status", "error", "finished_at"])
    audit_record(
        action=AccountAudit.DATA_EXPORT_FAILED,
        customer=export.customer,
        target=export,
        details={"error": export.error[:200]},
    )


# --- The download link ----------------------------------------------------------------------


def data_export_download_path(export: DataExport) -> str:
    token = signing.TimestampSigner(salt=SIGNING_SALT).sign(str(export.pk))
    return reverse("accounts:data_export_download", kwargs={"token": token})


def data_export_for_download(*, customer: Customer, token: str) -> DataExport | None:
    """The ready export a link names, if the link is genuine, not expired, and the export
    is this customer's; None otherwise (the view answers 404 either way)."""
    signer = signing.TimestampSigner(salt=SIGNING_SALT)
    try:
        export_id = signer.unsign(token, max_age=timedelta(days=export_days()))
    except signing.BadSignature:
        return None
    return DataExport.objects.filter(
        pk=int(export_id),
        customer=customer,
        status=DataExport.Status.READY,
        expires_at__gt=timezone.now(),
    ).first()


def data_export_downloaded(*, export: DataExport, meta: RequestMeta | None = None) -> None:
    audit_record(
        action=AccountAudit.DATA_EXPORT_DOWNLOADED,
        actor=export.customer.user,
        customer=export.customer,
        target=export,
        meta=meta,
    )


# --- The sweep ------------------------------------------------------------------------------


PRUNE_BATCH = 1000


def data_exports_prune() -> int:
    """Daily: delete the archives whose link expired, and fail builds whose worker died;
    returns how many archives went. Two queries a batch of PRUNE_BATCH, whatever the rows."""
    now = timezone.now()
    pruned = 0
    while True:
        expired = list(
            DataExport.objects.filter(status=DataExport.Status.READY, expires_at__lte=now)
            .order_by("pk")
            .values_list("pk", "file_name")[:PRUNE_BATCH]
        )
        _files_delete([name for _pk, name in expired if name])  # a file gone is no error
        DataExport.objects.filter(pk__in=[pk for pk, _name in expired]).update(
            status=DataExport.Status.EXPIRED, file_name=""
        )
        pruned += len(expired)
        if len(expired) < PRUNE_BATCH:
            break
    DataExport.objects.filter(
        status__in=DataExport.IN_PROGRESS, requested_at__lt=now - BUILD_STALE_AFTER
    ).update(status=DataExport.Status.FAILED, error="The build did not finish.", finished_at=now)
    return pruned


# --- Erasure (the accounts part) ------------------------------------------------------------


def _erased_email(user: User) -> str:
    return f"erased-{user.pk}@{ERASED_DOMAIN}"


def _sessions_end(user: User) -> int:
    """Delete the user's sessions (the database store is not indexed by user: erasure is
    rare, so reading the live sessions once is acceptable)."""
    ended = [
        session.pk
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk)
    ]
    Session.objects.filter(pk__in=ended).delete()
    # The sessions page's rows (device, IP address) are personal data too.
    UserSession.objects.filter(user=user).delete()
    return len(ended)


def _exports_delete(customer: Customer) -> None:
    """Forget the customer's archives; their files go once the erasure is committed."""
    names = list(customer.data_exports.exclude(file_name="").values_list("file_name", flat=True))
    customer.data_exports.all().delete()
    transaction.on_commit(lambda: _files_delete(names))


def _files_delete(names: list[str]) -> None:
    storage = export_storage()
    for name in names:
        storage.delete(name)


@transaction.atomic
def customer_anonymise(
    *, customer_id: int, actor: User, meta: RequestMeta | None = None, details: dict[str, int]
) -> Customer:
    """Replace the user's and customer's personal data with placeholders, end their
    sessions, drop their second factors, login logs and data archives. The rows stay: the
    invoices, payments and ledger point at them (invoices keep their frozen buyer snapshot).
    Idempotent: an erased customer is returned as it is. Call it only through
    billing.services.data_rights.customer_erase, which ends the services first."""
    user_id = Customer.objects.values_list("user_id", flat=True).get(pk=customer_id)
    user = user_lock(user_id)
    customer = customer_lock(customer_id)
    if customer.erased_at is not None:
        return customer
    old_email = user.email
    user.email, user.is_active = _erased_email(user), False
    user.set_unusable_password()
    user.save(update_fields=["email", "is_active", "password"])
    customer.name, customer.company = f"Erased customer {customer.pk}", ""
    customer.address_line1 = customer.address_line2 = customer.city = ""
    customer.region = customer.postal_code = customer.tax_id = ""
    customer.phone = ""
    customer.erased_at = timezone.now()
    customer.save()
    sessions = _sessions_end(user)
    for device_model in (TOTPDevice, StaticDevice, Passkey):
        device_model.objects.filter(user=user).delete()
    for log_model in (AccessLog, AccessFailureLog, AccessAttempt):
        log_model.objects.filter(username=old_email).delete()
    _exports_delete(customer)
    # Staff notes are free text about the person ("prefers calls on 0123..."): not a
    # financial record, so they go with the rest of the personal data.
    notes = StaffNote.objects.filter(customer=customer).delete()[0]
    audit_record(
        action=AccountAudit.CUSTOMER_ERASED,
        actor=actor,
        customer=customer,
        target=customer,
        meta=meta,
        details={**details, "sessions_ended": sessions, "staff_notes_deleted": notes},
    )
    return customer
