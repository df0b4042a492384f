"""Row locks of billing's tables, in the portal's lock order (billing_portal/common/locks.py)."""

from __future__ import annotations

from typing import Any

from billing.models import RefundShortfall, ServiceChange, TokenPurchase
from billing_portal.common.locks import LockKind, lock_first, lock_one


def service_change_lock(change_id: int) -> ServiceChange:
    """The plan change row, locked."""
    return lock_one(ServiceChange.objects.all(), kind=LockKind.SERVICE_CHANGE, pk=change_id)


def service_change_lock_first(**lookups: Any) -> ServiceChange | None:
    """The first plan change matching `lookups` (e.g. its invoice and status), locked."""
    return lock_first(ServiceChange.objects.all(), kind=LockKind.SERVICE_CHANGE, **lookups)


def token_purchase_lock(**lookups: Any) -> TokenPurchase:
    """The one token purchase matching `lookups` (its id or its invoice), locked."""
    return lock_one(TokenPurchase.objects.all(), kind=LockKind.TOKEN_PURCHASE, **lookups)


def token_purchase_lock_for_staff(token_purchase_id: int) -> TokenPurchase:
    """The purchase with its customer and invoice read along; only its own row is locked
    (the invoice is a nullable join, which PostgreSQL cannot lock)."""
    rows = TokenPurchase.objects.select_related("customer", "invoice")
    return lock_one(rows, kind=LockKind.TOKEN_PURCHASE, pk=token_purchase_id)


def token_purchase_lock_first(**lookups: Any) -> TokenPurchase | None:
    """The first token purchase matching `lookups`, locked, or None."""
    return lock_first(TokenPurchase.objects.all(), kind=LockKind.TOKEN_PURCHASE, **lookups)


def refund_shortfall_lock(shortfall_id: int) -> RefundShortfall:
    """The shortfall row, locked: two staff resolving it at once queue on it."""
    return lock_one(RefundShortfall.objects.all(), kind=LockKind.REFUND_SHORTFALL, pk=shortfall_id)
