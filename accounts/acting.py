"""Staff acting as a customer ("log in as"), with django-hijack.

Who may: an active staff user whose session passed its second factor and who holds
`accounts.act_as_customer` (the Support and Administrator roles), as an active customer that
is neither staff nor superuser; never from a session that is itself acting.

What changes: the session becomes the customer's, remembering the staff user
(`hijack_history`) and the staff session's second-factor device, so stopping returns to a
verified staff session. The client area shows a banner on every page with "Stop acting";
views that move money or change the customer's credentials refuse while acting
(`accounts.mixins.NotWhileActingMixin`). Start and end are audited with the staff user.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

ACT_AS_PERMISSION = "accounts.act_as_customer"
# django-hijack's own session key: the users the session was before, most recent last.
HISTORY_SESSION_KEY = "hijack_history"
# The staff session's django-otp device, put back when acting ends (login() empties the
# session each time the user changes).
STAFF_DEVICE_SESSION_KEY = "acting_staff_device"
# Set on the request while hijack logs the session in as the customer or back as staff, so
# the login receiver does not record those switches as the customer's or staff's logins.
SWITCHING_ATTRIBUTE = "acting_switch"


def may_act_as(*, hijacker: Any, hijacked: Any) -> bool:
    """django-hijack's permission check (HIJACK_PERMISSION_CHECK)."""
    if hijacked is None or not hijacked.is_active or hijacked.is_staff or hijacked.is_superuser:
        return False
    if not hasattr(hijacked, "customer"):
        return False  # a user without a billing profile has no client area to act in
    verified = getattr(hijacker, "is_verified", lambda: False)()
    return bool(
        hijacker.is_active
        and hijacker.is_staff
        and verified
        and not getattr(hijacker, "is_hijacked", False)
        and hijacker.has_perm(ACT_AS_PERMISSION)
    )


def is_acting(request: HttpRequest) -> bool:
    """Whether this session is staff acting as its user."""
    session = getattr(request, "session", None)
    return bool(session is not None and session.get(HISTORY_SESSION_KEY))


def acting_staff_id(request: HttpRequest) -> int | None:
    """The id of the staff user acting in this session, if any."""
    history = request.session.get(HISTORY_SESSION_KEY) if is_acting(request) else None
    return int(history[-1]) if history else None


def is_switching(request: HttpRequest | None) -> bool:
    return bool(getattr(request, SWITCHING_ATTRIBUTE, False))
