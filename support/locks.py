"""Row locks of the support desk, in the portal's lock order (billing_portal/common/locks.py):
tickets are locked alone, last; a merge takes both tickets in id order."""

from __future__ import annotations

from billing_portal.common.locks import LockKind, lock_many, lock_one
from support.models import Announcement, Ticket


def ticket_lock(ticket_id: int, **lookups: object) -> Ticket:
    """The ticket, locked (DoesNotExist when it does not match `lookups`, e.g. its customer)."""
    return lock_one(
        Ticket.objects.select_related("customer__user", "department"),
        kind=LockKind.TICKET,
        pk=ticket_id,
        **lookups,
    )


def tickets_lock(ticket_ids: list[int]) -> list[Ticket]:
    """These tickets, locked in id order."""
    rows = Ticket.objects.select_related("customer__user").filter(pk__in=ticket_ids)
    return lock_many(rows, kind=LockKind.TICKET)


def announcement_lock(announcement_id: int) -> Announcement:
    """The announcement, locked (DoesNotExist if it is gone)."""
    return lock_one(Announcement.objects.all(), kind=LockKind.ANNOUNCEMENT, pk=announcement_id)
