"""Account writes: registration, email verification, passwords and profile.

Every function here owns its transaction and records an audit event; emails are queued on
commit so a rolled-back change never sends mail.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator, default_token_generator
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from accounts.audit import AccountAudit
from accounts.errors import EmailAlreadyRegistered, InvalidVerificationLink
from accounts.locks import customer_lock_for_user, user_lock
from accounts.models import Customer, User, normalize_email
from accounts.tokens import email_verification_token
from billing_portal.common.audit import audit_record
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
    *, user: User, password: str, meta: RequestMeta | None = None, via_reset: bool = False
) -> User:
    """Set a new password (after the caller validated it), notify the owner, clear lockouts.

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
    transaction.on_commit(lambda: axes_reset(username=user.email))
    email_send_on_commit(
        to=[user.email],
        name="account_password_changed",
        context={"email": user.email, "ip_address": (meta or RequestMeta()).ip_address},
    )
    return user


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


def sessions_clear_expired() -> int:
    """Delete the sessions that have expired (Django's own clean-up, as `clearsessions`
    does); returns how many there were with the database session store."""
    from django.contrib.sessions.models import Session

    expired = Session.objects.filter(expire_date__lt=timezone.now()).count()
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
    return expired


def login_logs_prune() -> int:
    """Delete django-axes' login logs (every login, and failures where that log is on) older
    than LOGIN_LOG_RETENTION_DAYS; the audit log keeps the security-relevant events."""
    days = settings.LOGIN_LOG_RETENTION_DAYS
    logs: int = AxesProxyHandler.reset_logs(age_days=days)
    failures: int = AxesProxyHandler.reset_failure_logs(age_days=days)
    return logs + failures
