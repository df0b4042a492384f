"""Account writes: registration, email verification, passwords, profile and staff notes.

Every function here owns its transaction and records an audit event; emails are queued on
commit so a rolled-back change never sends mail.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator, default_token_generator
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from accounts.audit import AccountAudit, ApiKeyAudit, StaffNoteAudit
from accounts.errors import (
    ApiKeyRefused,
    EmailAlreadyRegistered,
    EmailChangeRefused,
    IdempotencyConflict,
    InvalidVerificationLink,
    StaffNoteRefused,
)
from accounts.locks import customer_lock_for_user, staff_note_lock, user_lock
from accounts.models import (
    NOTE_MAX_LENGTH,
    ApiKey,
    Customer,
    IdempotencyKey,
    StaffNote,
    User,
    normalize_email,
)
from accounts.tokens import email_verification_token
from accounts.user_sessions import user_sessions_end_others
from billing_portal.common.audit import audit_record
from billing_portal.common.db import in_batches
from billing_portal.common.emails import email_send_on_commit
from billing_portal.common.request import RequestMeta


def _customer_of(user: User) -> Customer | None:
    return Customer.objects.filter(user=user).first()


# --- Registration and verification --------------------------------------------------------


@transaction.atomic
def customer_register(
    *,
    email: str,
    password: str,
    name: str,
    country: str,
    company: str = "",
    base_url: str,
    meta: RequestMeta | None = None,
) -> Customer:
    """Create a user and its customer profile, then email a verification link.

    The user can log in only after following the link (see LoginForm).
    """
    email = normalize_email(email)
    if User.objects.filter(email=email).exists():
        raise EmailAlreadyRegistered
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=password)
    except IntegrityError as exc:  # a concurrent registration won the race
        raise EmailAlreadyRegistered from exc
    customer = Customer.objects.create(user=user, name=name, company=company, country=country)
    audit_record(
        action=AccountAudit.ACCOUNT_REGISTERED,
        actor=user,
        customer=customer,
        target=customer,
        meta=meta,
    )
    email_verification_send(user=user, base_url=base_url)
    return customer


def _signed_user_link(
    *, user: User, generator: PasswordResetTokenGenerator, url_name: str, base_url: str
) -> str:
    """An absolute link carrying the user's id and a token from `generator`."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    path = reverse(url_name, kwargs={"uidb64": uid, "token": generator.make_token(user)})
    return f"{base_url.rstrip('/')}{path}"


def email_verification_send(*, user: User, base_url: str) -> None:
    link = _signed_user_link(
        user=user,
        generator=email_verification_token,
        url_name="accounts:verify_email",
        base_url=base_url,
    )
    email_send_on_commit(
        to=[user.email],
        name="account_verify_email",
        context={"verify_url": link, "email": user.email},
    )


def email_verification_resend(*, email: str, base_url: str) -> None:
    """Send a fresh link if an unverified account has this email; silent otherwise, so the
    form cannot be used to discover which addresses have accounts."""
    user = User.objects.filter(
        email=normalize_email(email), is_active=True, email_verified_at__isnull=True
    ).first()
    if user is not None:
        email_verification_send(user=user, base_url=base_url)


def _user_from_uidb64(uidb64: str) -> User | None:
    try:
        pk = int(urlsafe_base64_decode(uidb64).decode())
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        return None
    return User.objects.filter(pk=pk).first()


@transaction.atomic
def email_verify(*, uidb64: str, token: str, meta: RequestMeta | None = None) -> User:
    """Mark the email verified. Idempotent: a repeated click on the link of an already
    verified account succeeds without a second event; any other token is refused, verified
    account or not."""
    user = _user_from_uidb64(uidb64)
    if user is None:
        raise InvalidVerificationLink
    user = user_lock(user.pk)
    if not email_verification_token.check_token(user, token):
        raise InvalidVerificationLink
    if user.is_email_verified:
        return user
    user.email_verified_at = timezone.now()
    user.save(update_fields=["email_verified_at"])
    audit_record(
        action=AccountAudit.EMAIL_VERIFIED,
        actor=user,
        customer=_customer_of(user),
        target=user,
        meta=meta,
    )
    return user


# --- Passwords ----------------------------------------------------------------------------


@transaction.atomic
def password_reset_request(*, email: str, base_url: str, meta: RequestMeta | None = None) -> None:
    """Email a reset link to an active account with this address; silent when none exists."""
    user = User.objects.filter(email=normalize_email(email), is_active=True).first()
    if user is None or not user.has_usable_password():
        return
    link = _signed_user_link(
        user=user,
        generator=default_token_generator,
        url_name="accounts:password_reset_confirm",
        base_url=base_url,
    )
    email_send_on_commit(
        to=[user.email],
        name="account_password_reset",
        context={"reset_url": link, "email": user.email},
    )
    audit_record(
        action=AccountAudit.PASSWORD_RESET_REQUESTED,
        actor=None,
        customer=_customer_of(user),
        target=user,
        meta=meta,
    )


@transaction.atomic
def user_password_set(
    *,
    user: User,
    password: str,
    meta: RequestMeta | None = None,
    via_reset: bool = False,
    keep_session_key: str | None = None,
) -> User:
    """Set a new password (after the caller validated it), notify the owner, clear lockouts,
    and sign out every session of the user but `keep_session_key` (the one changing it; a
    reset keeps none).

    A completed reset proves the user controls the mailbox, so it also verifies the email.
    """
    user = user_lock(user.pk)
    user.set_password(password)
    fields = ["password"]
    if via_reset and not user.is_email_verified:
        user.email_verified_at = timezone.now()
        fields.append("email_verified_at")
    user.save(update_fields=fields)
    audit_record(
        action=AccountAudit.PASSWORD_CHANGED,
        actor=user,
        customer=_customer_of(user),
        target=user,
        meta=meta,
        details={"via": "reset" if via_reset else "change"},
    )
    user_sessions_end_others(
        user=user,
        keep_key=keep_session_key,
        reason="password_reset" if via_reset else "password_changed",
        meta=meta,
    )
    transaction.on_commit(lambda: axes_reset(username=user.email))
    email_send_on_commit(
        to=[user.email],
        name="account_password_changed",
        context={"email": user.email, "ip_address": (meta or RequestMeta()).ip_address},
    )
    return user


# --- Email change -------------------------------------------------------------------------

EMAIL_CHANGE_SALT = "accounts.email_change"


@transaction.atomic
def email_change_request(
    *, user: User, new_email: str, base_url: str, meta: RequestMeta | None = None
) -> None:
    """Email a signed link, valid EMAIL_CHANGE_LINK_SECONDS, to `new_email`: the address
    replaces the current one only when that link is opened. The current address is told.
    The caller has re-authenticated the user (password and, if enrolled, a current code)."""
    user = user_lock(user.pk)
    new_email = normalize_email(new_email)
    if new_email == user.email:
        raise EmailChangeRefused("That is already your email address.")
    if User.objects.filter(email=new_email).exists():
        raise EmailAlreadyRegistered("Another account already uses this email address.")
    token = signing.dumps(
        {"user": user.pk, "from": user.email, "to": new_email}, salt=EMAIL_CHANGE_SALT
    )
    path = reverse("accounts:email_change_confirm", kwargs={"token": token})
    hours = max(1, settings.EMAIL_CHANGE_LINK_SECONDS // 3600)
    email_send_on_commit(
        to=[new_email],
        name="account_email_change_confirm",
        context={
            "confirm_url": f"{base_url.rstrip('/')}{path}",
            "email": new_email,
            "hours": hours,
        },
    )
    _email_change_notice(user=user, new_email=new_email, done=False, meta=meta)
    audit_record(
        action=AccountAudit.EMAIL_CHANGE_REQUESTED,
        actor=user,
        customer=_customer_of(user),
        target=user,
        meta=meta,
        details={"from": user.email, "to": new_email},
    )


def _email_change_link(token: str) -> tuple[int, str, str]:
    """(user id, old address, new address) of an email-change link that is signed by us and
    not expired; EmailChangeRefused otherwise."""
    try:
        data = signing.loads(
            token, salt=EMAIL_CHANGE_SALT, max_age=settings.EMAIL_CHANGE_LINK_SECONDS
        )
        return int(data["user"]), str(data["from"]), str(data["to"])
    except (signing.BadSignature, KeyError, TypeError, ValueError) as error:
        raise EmailChangeRefused from error


def email_change_token_read(*, token: str) -> tuple[User, str]:
    """The user and new address of an email-change link, for its confirmation page;
    EmailChangeRefused when it expired, was tampered with or was overtaken by another change."""
    user_id, old_email, new_email = _email_change_link(token)
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or user.email not in (old_email, new_email):
        raise EmailChangeRefused
    return user, new_email


@transaction.atomic
def email_change_confirm(*, token: str, meta: RequestMeta | None = None) -> User:
    """Replace the address with the one the link was sent to (now verified), and tell the
    old one. Idempotent: the same link again succeeds without a second change; a link that
    expired, was tampered with, or was overtaken by another change is refused."""
    user_id, old_email, new_email = _email_change_link(token)
    try:
        user = user_lock(user_id)
    except User.DoesNotExist as error:
        raise EmailChangeRefused from error
    if user.email == new_email:
        return user
    if user.email != old_email or not user.is_active:
        raise EmailChangeRefused
    if User.objects.filter(email=new_email).exclude(pk=user.pk).exists():
        raise EmailAlreadyRegistered("Another account started using this address.")
    user.email = new_email
    user.email_verified_at = timezone.now()
    try:
        with transaction.atomic():
            user.save(update_fields=["email", "email_verified_at"])
    except IntegrityError as error:  # a registration with it won the race
        raise EmailAlreadyRegistered("Another account started using this address.") from error
    _email_change_notice(user=user, new_email=new_email, done=True, meta=meta, to=old_email)
    audit_record(
        action=AccountAudit.EMAIL_CHANGED,
        actor=user,
        customer=_customer_of(user),
        target=user,
        meta=meta,
        details={"from": old_email, "to": new_email},
    )
    return user


def _email_change_notice(
    *, user: User, new_email: str, done: bool, meta: RequestMeta | None, to: str = ""
) -> None:
    email_send_on_commit(
        to=[to or user.email],
        name="account_email_changed",
        context={
            "email": to or user.email,
            "new_email": new_email,
            "done": done,
            "ip_address": (meta or RequestMeta()).ip_address,
        },
    )


# --- Profile ------------------------------------------------------------------------------

PROFILE_FIELDS = (
    "name",
    "company",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
    "phone",
    "tax_id",
    "preferred_currency",
    "credit_auto_apply",
)


@transaction.atomic
def customer_profile_update(
    *, user: User, data: dict[str, Any], meta: RequestMeta | None = None
) -> Customer:
    """Update profile fields (creating the profile for a user who has none, such as a staff
    user), recording which fields changed. Values are not logged: they are personal data."""
    customer = customer_lock_for_user(user)
    created = customer is None
    if customer is None:
        customer = Customer(user=user)
    changed = [
        field
        for field in PROFILE_FIELDS
        if field in data and str(getattr(customer, field)) != str(data[field])
    ]
    if not changed and not created:
        return customer
    for field in changed:
        setattr(customer, field, data[field])
    customer.full_clean()
    customer.save()
    audit_record(
        action=AccountAudit.PROFILE_CHANGED,
        actor=user,
        customer=customer,
        target=customer,
        meta=meta,
        details={"fields": changed, "created": created},
    )
    return customer


# --- Staff notes --------------------------------------------------------------------------
# Staff-only: the permission to add, change or delete notes is the admin's to check; these
# refuse anyone who is not staff. The body is never copied into an audit event.

# A second identical note from the same author within this span is the first one submitted
# twice (a double click, a reload of the POST), not a new note.
NOTE_REPEAT_SECONDS = 60


def _note_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise StaffNoteRefused("Write something in the note.")
    if len(body) > NOTE_MAX_LENGTH:
        raise StaffNoteRefused(f"A note has at most {NOTE_MAX_LENGTH} characters.")
    return body


def _staff_only(user: User) -> None:
    if not (user.is_authenticated and user.is_staff):
        raise StaffNoteRefused("Only staff can keep notes on customers.")


def _note_event(
    action: StaffNoteAudit, note: StaffNote, actor: User, meta: RequestMeta | None
) -> None:
    audit_record(
        action=action,
        actor=actor,
        customer=note.customer,
        target=note,
        meta=meta,
        details={"pinned": note.pinned},
    )


@transaction.atomic
def staff_note_add(
    *,
    customer_id: int,
    author: User,
    body: str,
    pinned: bool = False,
    meta: RequestMeta | None = None,
) -> StaffNote:
    """Add a note on a customer (Customer.DoesNotExist for an unknown one). The same note
    sent again by its author at once is returned, not added twice."""
    _staff_only(author)
    body = _note_body(body)
    customer = Customer.objects.get(pk=customer_id)
    since = timezone.now() - timedelta(seconds=NOTE_REPEAT_SECONDS)
    repeat = StaffNote.objects.filter(
        customer=customer, author=author, body=body, created_at__gte=since
    ).first()
    if repeat is not None:
        return repeat
    note = StaffNote.objects.create(customer=customer, author=author, body=body, pinned=pinned)
    _note_event(StaffNoteAudit.NOTE_ADDED, note, author, meta)
    return note


@transaction.atomic
def staff_note_edit(
    *, note_id: int, actor: User, body: str, meta: RequestMeta | None = None
) -> StaffNote:
    """Replace a note's text (StaffNote.DoesNotExist once it is deleted)."""
    _staff_only(actor)
    body = _note_body(body)
    note = staff_note_lock(note_id)
    if note.body == body:
        return note
    note.body = body
    note.save(update_fields=["body", "updated_at"])
    _note_event(StaffNoteAudit.NOTE_EDITED, note, actor, meta)
    return note


@transaction.atomic
def staff_note_pin(
    *, note_id: int, actor: User, pinned: bool, meta: RequestMeta | None = None
) -> StaffNote:
    """Pin a note (shown first) or unpin it; asking for the state it has changes nothing."""
    _staff_only(actor)
    note = staff_note_lock(note_id)
    if note.pinned == pinned:
        return note
    note.pinned = pinned
    note.save(update_fields=["pinned", "updated_at"])
    action = StaffNoteAudit.NOTE_PINNED if pinned else StaffNoteAudit.NOTE_UNPINNED
    _note_event(action, note, actor, meta)
    return note


@transaction.atomic
def staff_note_delete(*, note_id: int, actor: User, meta: RequestMeta | None = None) -> None:
    """Delete a note; one already deleted is done already. The audit event keeps which note
    it was (its id), not what it said."""
    _staff_only(actor)
    try:
        note = staff_note_lock(note_id)
    except StaffNote.DoesNotExist:
        return
    _note_event(StaffNoteAudit.NOTE_DELETED, note, actor, meta)
    note.delete()


# --- Login events (called from auth signal receivers) -------------------------------------


def login_username_normalize(
    request: HttpRequest | None, credentials: dict[str, Any]
) -> str | None:
    """Axes' username for throttling: lower-cased, so "A@x.com" and "a@x.com" share a count."""
    username = (credentials or {}).get("username")
    return normalize_email(username) if username else None


def login_record(*, user: User, meta: RequestMeta) -> None:
    audit_record(action=AccountAudit.LOGIN, actor=user, customer=_customer_of(user), meta=meta)


def logout_record(*, user: User, meta: RequestMeta) -> None:
    audit_record(action=AccountAudit.LOGOUT, actor=user, customer=_customer_of(user), meta=meta)


def acting_record(*, staff: User, user: User, started: bool, meta: RequestMeta) -> None:
    """Staff started (or stopped) acting as the customer `user`: one event on the customer,
    by the staff user, so the customer's activity log shows it too."""
    audit_record(
        action=AccountAudit.ACTING_STARTED if started else AccountAudit.ACTING_ENDED,
        actor=staff,
        customer=_customer_of(user),
        target=user,
        meta=meta,
        details={"staff": staff.email, "customer_email": user.email},
    )


def login_failure_record(*, username: str | None, meta: RequestMeta, locked_out: bool) -> None:
    """Record a failed or refused login. When the address belongs to a customer the event is
    attached to them, so they can see attempts on their account in the activity log."""
    email = normalize_email(username or "")
    user = User.objects.filter(email=email).first() if email else None
    audit_record(
        action=AccountAudit.LOGIN_LOCKED_OUT if locked_out else AccountAudit.LOGIN_FAILED,
        customer=_customer_of(user) if user else None,
        target=user,
        meta=meta,
        details={"username": email[:254]},
    )


# --- Housekeeping -------------------------------------------------------------------------


def login_logs_prune() -> int:
    """Delete django-axes' login logs (every login, and failures where that log is on) older
    than LOGIN_LOG_RETENTION_DAYS; the audit log keeps the security-relevant events."""
    days = settings.LOGIN_LOG_RETENTION_DAYS
    logs: int = AxesProxyHandler.reset_logs(age_days=days)
    failures: int = AxesProxyHandler.reset_failure_logs(age_days=days)
    return logs + failures


# --- API keys -------------------------------------------------------------------------------

API_KEY_TAG = "bpk"  # keys read `bpk_<prefix>_<secret>`, so a leaked one is recognisable
API_KEY_MAX_NETWORKS = 20
# last_used_* is written at most once a minute, not on every request.
API_KEY_USE_RECORD_SECONDS = 60


@dataclass(frozen=True)
class NewApiKey:
    """A key as made: `token` is the whole key, shown once and never stored."""

    api_key: ApiKey
    token: str


def _secret_hash(secret: str) -> str:
    # The secret is 256 random bits, so a fast hash is as safe as a slow one here and keeps
    # every request's check cheap.
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_networks_parse(value: str | list[str]) -> list[str]:
    """The allow-list as networks in canonical form (`192.0.2.7` is `192.0.2.7/32`), from a
    list or text with one network per line or comma; ApiKeyRefused names a bad one."""
    items = value.replace(",", "\n").splitlines() if isinstance(value, str) else value
    networks = []
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError as error:
            raise ApiKeyRefused(f"{item[:60]!r} is not an IP address or network.") from error
    if len(networks) > API_KEY_MAX_NETWORKS:
        raise ApiKeyRefused(f"Give at most {API_KEY_MAX_NETWORKS} networks.")
    return list(dict.fromkeys(networks))


def _scopes_check(user: User, scopes: list[str]) -> list[str]:
    chosen = list(dict.fromkeys(scopes))
    if not chosen:
        raise ApiKeyRefused("Choose at least one scope.")
    allowed = set(ApiKey.CUSTOMER_SCOPES) | (set(ApiKey.STAFF_SCOPES) if user.is_staff else set())
    refused = [scope for scope in chosen if scope not in allowed]
    if refused:
        raise ApiKeyRefused(f"This account cannot have the scope {refused[0]!r}.")
    return chosen


@transaction.atomic
def api_key_create(
    *,
    user: User,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
    allowed_ips: list[str] | None = None,
    actor: User | None = None,
    meta: RequestMeta | None = None,
) -> NewApiKey:
    """A new key for `user` (by the user in the client area, or by staff in the admin:
    `actor`). Returns the whole key once; only its hash is kept."""
    name = name.strip()
    if not name:
        raise ApiKeyRefused("Give the key a name.")
    if expires_at is not None and expires_at <= timezone.now():
        raise ApiKeyRefused("The expiry must be in the future.")
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        user=user,
        name=name[:100],
        prefix=prefix,
        secret_hash=_secret_hash(secret),
        scopes=_scopes_check(user, scopes),
        expires_at=expires_at,
        allowed_ips=api_key_networks_parse(allowed_ips or []),
        created_by=actor or user,
    )
    audit_record(
        action=ApiKeyAudit.API_KEY_CREATED,
        actor=actor or user,
        customer=_customer_of(user),
        target=api_key,
        meta=meta,
        details={"name": api_key.name, "prefix": prefix, "scopes": api_key.scopes},
    )
    return NewApiKey(api_key=api_key, token=f"{API_KEY_TAG}_{prefix}_{secret}")


@transaction.atomic
def api_key_revoke(
    *, api_key_id: int, user: User | None, actor: User, meta: RequestMeta | None = None
) -> ApiKey:
    """Revoke a key (the user's own, or with `user=None` any key, for staff); revoking a
    revoked key changes nothing. ApiKey.DoesNotExist for a key not theirs."""
    keys = ApiKey.objects.all() if user is None else ApiKey.objects.filter(user=user)
    api_key = keys.select_related("user").get(pk=api_key_id)
    revoked = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=actor
    )
    api_key.refresh_from_db()
    if revoked:
        audit_record(
            action=ApiKeyAudit.API_KEY_REVOKED,
            actor=actor,
            customer=_customer_of(api_key.user),
            target=api_key,
            meta=meta,
            details={"name": api_key.name, "prefix": api_key.prefix},
        )
    return api_key


def api_key_authenticate(*, token: str, ip_address: str | None) -> ApiKey | None:
    """The active key `token` is, if the request comes from an address it allows; None
    otherwise (whatever the reason, so a caller learns nothing about other keys)."""
    tag, _, rest = token.partition("_")
    prefix, _, secret = rest.partition("_")
    if tag != API_KEY_TAG or not prefix or not secret or len(token) > 200:
        return None
    api_key = ApiKey.objects.select_related("user").filter(prefix=prefix).first()
    # Compared in constant time, and hashed even for an unknown prefix, so timing tells
    # nothing about which prefixes exist.
    expected = api_key.secret_hash if api_key else _secret_hash("")
    if not hmac.compare_digest(_secret_hash(secret), expected) or api_key is None:
        return None
    if not api_key.is_active() or not api_key.user.is_active:
        return None
    if api_key.allowed_ips and not _address_allowed(ip_address, api_key.allowed_ips):
        return None
    _api_key_use_record(api_key, ip_address)
    return api_key


def _address_allowed(ip_address: str | None, networks: list[str]) -> bool:
    if ip_address is None:
        return False
    address = ipaddress.ip_address(ip_address)
    return any(address in ipaddress.ip_network(network) for network in networks)


def _api_key_use_record(api_key: ApiKey, ip_address: str | None) -> None:
    """Record when and from where the key was used, at most once a minute (or when the
    address changes): one conditional UPDATE, so concurrent requests write it once."""
    now = timezone.now()
    recent = now - timedelta(seconds=API_KEY_USE_RECORD_SECONDS)
    if (
        api_key.last_used_at is not None
        and api_key.last_used_at > recent
        and api_key.last_used_ip == ip_address
    ):
        return
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lte=recent)
    if ip_address is not None:
        stale |= ~Q(last_used_ip=ip_address) | Q(last_used_ip__isnull=True)
    ApiKey.objects.filter(stale, pk=api_key.pk).update(last_used_at=now, last_used_ip=ip_address)
    api_key.last_used_at, api_key.last_used_ip = now, ip_address


# --- Idempotency keys (the API's POSTs that move money or create something) --------------


@dataclass(frozen=True)
class IdempotencyClaim:
    """Either the request may run (`record` is claimed for it: finish or release it), or
    `replay` holds the stored answer (status, body) of the first request."""

    record: IdempotencyKey
    replay: tuple[int, Any] | None = None


def idempotency_claim(*, user: User, key: str, request_hash: str) -> IdempotencyClaim:
    """Claim `key` for a request of `user` whose method, path and body hash to
    `request_hash`. IdempotencyConflict (422) for another request with the same key, (409)
    while the first one is still running. Commits at once, so concurrent requests see the
    claim: the unique (user, key) lets one INSERT win, the others wait for it and then find
    the row."""
    now = timezone.now()
    with transaction.atomic():
        record, created = IdempotencyKey.objects.get_or_create(
            user=user, key=key, defaults={"request_hash": request_hash, "locked_at": now}
        )
    if created:
        return IdempotencyClaim(record=record)
    if not hmac.compare_digest(record.request_hash, request_hash):
        raise IdempotencyConflict(
            "This Idempotency-Key was used with a different request.",
            code="idempotency_key_reused",
            status=422,
        )
    if record.response_status is not None:
        return IdempotencyClaim(
            record=record,
            replay=(record.response_status, json.loads(record.response_body or "null")),
        )
    # A request with this key was released (it failed on our side) or died holding it.
    stale = now - timedelta(seconds=settings.API_IDEMPOTENCY_LOCK_SECONDS)
    taken = IdempotencyKey.objects.filter(
        Q(locked_at__isnull=True) | Q(locked_at__lt=stale),
        pk=record.pk,
        response_status__isnull=True,
    ).update(locked_at=now)
    if not taken:
        raise IdempotencyConflict(
            "A request with this Idempotency-Key is still being processed; retry later.",
            code="idempotency_key_in_use",
            status=409,
        )
    return IdempotencyClaim(record=record)


def idempotency_finish(*, record: IdempotencyKey, status: int, body: str) -> None:
    """Store the answer to replay for the claimed key: its JSON text as first rendered (a
    replay parses it in the same key order, so it renders to the same bytes)."""
    IdempotencyKey.objects.filter(pk=record.pk).update(
        response_status=status, response_body=body, locked_at=None, finished_at=timezone.now()
    )


def idempotency_release(*, record: IdempotencyKey) -> None:
    """The claimed request failed on our side (5xx): the client may retry with the key."""
    IdempotencyKey.objects.filter(pk=record.pk, response_status__isnull=True).update(locked_at=None)


def idempotency_keys_prune() -> int:
    """Forget answers older than API_IDEMPOTENCY_KEEP_HOURS (a retry after that runs anew,
    as Stripe's keys expire after 24 hours); the daily housekeeping calls this."""
    cutoff = timezone.now() - timedelta(hours=settings.API_IDEMPOTENCY_KEEP_HOURS)
    old = IdempotencyKey.objects.filter(created_at__lt=cutoff)
    return in_batches(old, lambda rows: rows.delete()[0])


# --- Customers created by staff -----------------------------------------------------------


@transaction.atomic
def customer_create_by_staff(
    *, email: str, profile: dict[str, Any], actor: User, meta: RequestMeta | None = None
) -> Customer:
    """Create a user (no password: the customer sets one through "forgot password", which
    also proves the address) and its customer profile from PROFILE_FIELDS, `name` and
    `country` required, plus `tax_exempt`, a staff-only field. Validated as the model is;
    EmailAlreadyRegistered when the address has an account."""
    email = normalize_email(email)
    if User.objects.filter(email=email).exists():
        raise EmailAlreadyRegistered
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=None)
    except IntegrityError as exc:  # a concurrent request for the address won the race
        raise EmailAlreadyRegistered from exc
    allowed = {*PROFILE_FIELDS, "tax_exempt"}
    customer = Customer(user=user, **{k: v for k, v in profile.items() if k in allowed})
    customer.full_clean()
    customer.save()
    audit_record(
        action=AccountAudit.CREATED_BY_STAFF,
        actor=actor,
        customer=customer,
        target=customer,
        meta=meta,
        details={"fields": sorted(k for k in profile if k in allowed)},
    )
    return customer
