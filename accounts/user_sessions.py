"""Signed-in sessions: the list a user sees (device, IP, last seen), ending one or all others,
and the idle timeout and absolute lifetime (staff shorter than customers).

Django's database sessions hold the data and the expiry; a `UserSession` row beside each
signed-in one says whose it is and what it looks like. Ending a session deletes both, so the
browser's next request finds no session and is signed out. The expiry Django stores is the
idle timeout from the last request, never past the lifetime from the login, so a session
that is not used, or too old, is refused by Django itself; the middleware writes the
last-seen time (and so renews the expiry) at most once every TOUCH_SECONDS.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from ua_parser import parse as parse_user_agent

from accounts.audit import AccountAudit
from accounts.models import Customer, User, UserSession
from billing_portal.common.audit import audit_record
from billing_portal.common.db import in_batches
from billing_portal.common.request import RequestMeta

# The last-seen time (and the expiry it renews) is written at most this often per session.
TOUCH_SECONDS = 60
DEVICE_MAX_LENGTH = 200


# --- Timeouts -----------------------------------------------------------------------------


def session_limits(*, staff: bool) -> tuple[int, int]:
    """(idle timeout, absolute lifetime) in seconds: staff's (also a staff user acting as a
    customer), or customers'."""
    if staff:
        return settings.STAFF_SESSION_IDLE_SECONDS, settings.STAFF_SESSION_LIFETIME_SECONDS
    return settings.SESSION_IDLE_SECONDS, settings.SESSION_LIFETIME_SECONDS


def session_seconds_left(*, staff: bool, started_at: float, now: float) -> int:
    """How long the session may go unused from now: the idle timeout, cut at its lifetime."""
    idle, lifetime = session_limits(staff=staff)
    return max(0, int(min(idle, started_at + lifetime - now)))


def session_is_over(*, staff: bool, started_at: float, seen_at: float | None, now: float) -> bool:
    """Whether a session whose clock says this has passed its lifetime or sat idle too long
    (Django's stored expiry refuses it too; this catches what a later setting shortened)."""
    idle, lifetime = session_limits(staff=staff)
    return now - started_at > lifetime or (seen_at is not None and now - seen_at > idle)


# --- The device ---------------------------------------------------------------------------


def device_from_user_agent(user_agent: str) -> str:
    """A short name for what sent the user agent: "Firefox 128 on Ubuntu", "Mobile Safari
    17 on iOS 17 (iPhone)"; empty when it tells nothing."""
    if not user_agent.strip():
        return ""
    result = parse_user_agent(user_agent)
    browser = result.user_agent
    name = " ".join(p for p in (browser.family, browser.major) if p) if browser else ""
    if result.os and result.os.family != "Other":
        system = " ".join(p for p in (result.os.family, result.os.major) if p)
        name = f"{name or 'A browser'} on {system}"
    device = result.device.family if result.device else ""
    if device and device != "Other" and not (result.os and result.os.family.startswith(device)):
        name = f"{name or 'A browser'} ({device})"
    return (name if name and name != "Other" else "")[:DEVICE_MAX_LENGTH]


# --- Recording requests -------------------------------------------------------------------


def user_session_seen(
    *,
    user: User,
    session_key: str,
    record_id: int | None,
    started_at: float,
    seconds_left: int,
    meta: RequestMeta,
) -> int:
    """Write that the session was used now (from this address) and ends `seconds_left`
    from now unless used again, following a rotated key; a session seen for the first time
    gets its row. Returns the row's id."""
    seen = {
        "session_key": session_key,
        "last_seen_at": timezone.now(),
        "ip_address": meta.ip_address,
        "expires_at": timezone.now() + timedelta(seconds=seconds_left),
    }
    if record_id is not None and UserSession.objects.filter(pk=record_id, user=user).update(**seen):
        return record_id
    # One statement that also takes over a row already there for this key (two first
    # requests of a new session at once, or a session that lost its row id).
    (row,) = UserSession.objects.bulk_create(
        [
            UserSession(
                user=user,
                user_agent=meta.user_agent,
                device=device_from_user_agent(meta.user_agent),
                created_at=datetime.fromtimestamp(started_at, tz=UTC),
                **seen,
            )
        ],
        update_conflicts=True,
        unique_fields=["session_key"],
        update_fields=["user", *seen],
    )
    return int(row.pk)


# --- Ending sessions ----------------------------------------------------------------------


def _end(rows: list[UserSession]) -> int:
    keys = [row.session_key for row in rows]
    Session.objects.filter(session_key__in=keys).delete()
    UserSession.objects.filter(pk__in=[row.pk for row in rows]).delete()
    return len(rows)


def _customer_of(user: User) -> Customer | None:
    return Customer.objects.filter(user=user).first()


def _ended(*, user: User, rows: list[UserSession], reason: str, meta: RequestMeta | None) -> None:
    audit_record(
        action=AccountAudit.SESSION_ENDED,
        actor=user,
        customer=_customer_of(user),
        target=user,
        meta=meta,
        details={
            "reason": reason,
            "count": len(rows),
            "devices": sorted({row.device or "unknown" for row in rows})[:20],
        },
    )


@transaction.atomic
def user_session_end(
    *, user: User, session_id: int, current_key: str | None, meta: RequestMeta | None = None
) -> None:
    """Sign out one of the user's other sessions. Another user's, or this very one, is not
    found (UserSession.DoesNotExist): this session ends by logging out."""
    row = UserSession.objects.exclude(session_key=current_key or "").get(user=user, pk=session_id)
    _end([row])
    _ended(user=user, rows=[row], reason="ended", meta=meta)


@transaction.atomic
def user_sessions_end_others(
    *, user: User, keep_key: str | None, reason: str, meta: RequestMeta | None = None
) -> int:
    """Sign out every session of the user but `keep_key` (None: every one); returns how
    many ended. Also what a password change or reset does."""
    rows = list(UserSession.objects.filter(user=user).exclude(session_key=keep_key or ""))
    if not rows:
        return 0
    _end(rows)
    _ended(user=user, rows=rows, reason=reason, meta=meta)
    return len(rows)


# --- Housekeeping -------------------------------------------------------------------------


def sessions_clear_expired() -> int:
    """Delete expired sessions, then the rows of sessions that expired or are gone (ended
    by a logout or a key rotation), each in batches of 1,000 (two queries a batch);
    returns how many sessions were deleted."""
    now = timezone.now()
    ended = in_batches(Session.objects.filter(expire_date__lt=now), lambda rows: rows.delete()[0])
    live = Session.objects.filter(session_key=OuterRef("session_key"), expire_date__gte=now)
    in_batches(
        UserSession.objects.filter(Q(expires_at__lt=now) | ~Exists(live)),
        lambda rows: rows.delete()[0],
    )
    return ended
