"""Template context for the client area's layout."""

from __future__ import annotations

from django.http import HttpRequest

from accounts.acting import acting_staff_id
from accounts.models import User


def acting(request: HttpRequest) -> dict:
    """`acting_staff`: the staff user acting as this session's customer (the layout's
    banner), or None; a query only on the pages of such a session."""
    staff_id = acting_staff_id(request) if hasattr(request, "session") else None
    if staff_id is None:
        return {"acting_staff": None}
    return {"acting_staff": User.objects.filter(pk=staff_id).first()}
