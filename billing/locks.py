"""Row locks of billing's tables, in the portal's lock order (billing_portal/common/locks.py)."""

from __future__ import annotations

from typing import Any

from billing.models import ServiceChange
from billing_portal.common.locks import LockKind, lock_first, lock_one


def service_change_lock(change_id: int) -> ServiceChange:
    """The plan change row, locked."""
    return lock_one(ServiceChange.objects.all(), kind=LockKind.SERVICE_CHANGE, pk=change_id)


def service_change_lock_first(**lookups: Any) -> ServiceChange | None:
    """The first plan change matching `lookups` (e.g. its invoice and status), locked."""
    return lock_first(ServiceChange.objects.all(), kind=LockKind.SERVICE_CHANGE, **lookups)
