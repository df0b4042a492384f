"""Row locks of provisioning's tables, in the portal's lock order
(billing_portal/common/locks.py)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Model

from billing_portal.common.locks import LockKind, lock_many, lock_one
from billing_portal.common.models import WebhookEndpoint
from provisioning.models import AutomaticBackup, ProvisioningOperation, Server, Service


def service_lock(service_id: int, *, related: tuple[str, ...] = ()) -> Service:
    """The service row, locked (rows read along by `related` are not)."""
    rows = Service.objects.select_related(*related)
    return lock_one(rows, kind=LockKind.SERVICE, pk=service_id)


def services_lock(
    *, service_ids: Iterable[int], statuses: Iterable[str], related: tuple[str, ...] = ()
) -> list[Service]:
    """Those of these services still in one of `statuses`, locked in id order."""
    rows = Service.objects.filter(pk__in=service_ids, status__in=statuses)
    return lock_many(rows.select_related(*related), kind=LockKind.SERVICE)


def server_lock(server_id: int) -> Server:
    """The server row, locked: its account count and health are changed under it."""
    return lock_one(Server.objects.all(), kind=LockKind.SERVER, pk=server_id)


def provisioning_operation_lock(operation_id: int) -> ProvisioningOperation:
    """The operation row, locked (staff retrying or closing it)."""
    rows = ProvisioningOperation.objects.all()
    return lock_one(rows, kind=LockKind.OPERATION, pk=operation_id)


def secret_row_lock(model: type[Model], pk: int) -> Model:
    """A server's, a service's or a webhook endpoint's row, locked while its secrets are
    re-encrypted."""
    kind = {
        Server: LockKind.SERVER,
        Service: LockKind.SERVICE,
        WebhookEndpoint: LockKind.WEBHOOK_ENDPOINT,
    }[model]
    return lock_one(model._default_manager.all(), kind=kind, pk=pk)


def automatic_backup_lock(backup_id: int) -> AutomaticBackup:
    """A scheduled backup's row, locked alone while a worker claims it or records its
    outcome: an outbound call's row, so it takes the operations' rank."""
    return lock_one(AutomaticBackup.objects.all(), kind=LockKind.OPERATION, pk=backup_id)
