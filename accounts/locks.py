"""Row locks of accounts' tables, in the portal's lock order (billing_portal/common/locks.py)."""

from __future__ import annotations

from accounts.models import Customer, StaffNote, User
from billing_portal.common.locks import LockKind, lock_first, lock_many, lock_one


def user_lock(user_id: int) -> User:
    """The user row, locked: email verification and password changes queue on it."""
    return lock_one(User.objects.all(), kind=LockKind.USER, pk=user_id)


def customer_lock(customer_id: int) -> Customer:
    """The customer row, locked: serialises changes to what a customer holds as a whole
    (saved cards, the default card)."""
    return lock_one(Customer.objects.all(), kind=LockKind.CUSTOMER, pk=customer_id)


def customer_lock_for_user(user: User) -> Customer | None:
    """The user's customer profile, locked, or None when the user has none yet."""
    return lock_first(Customer.objects.all(), kind=LockKind.CUSTOMER, user=user)


def staff_note_lock(note_id: int) -> StaffNote:
    """A staff note, locked alone while it is edited, pinned or deleted."""
    return lock_one(StaffNote.objects.all(), kind=LockKind.STAFF_NOTE, pk=note_id)


def customers_lock(*, customer_ids: list[int]) -> list[Customer]:
    """Several customer rows, locked in id order (a batch changing what each holds, e.g.
    the daily card expiry notices marking their cards)."""
    return lock_many(Customer.objects.filter(pk__in=customer_ids), kind=LockKind.CUSTOMER)
