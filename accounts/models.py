"""Users and customer profiles (the audit log is the kernel's: billing_portal/common/audit.py).

- `User` logs in with an email address (no username). Emails are stored lower-cased, so the
  unique constraint is case-insensitive in practice.
- `Customer` is the billing identity of a user: everything a customer owns (services,
  invoices, credit) points here, and client-area selectors scope by it.
- `StaffNote` is what staff write down about a customer (pinned ones first). Staff only:
  nothing of the client area or the API reads it, and its audit events are hidden from the
  customer's activity log (accounts.selectors).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.text import Truncator
from django_countries.fields import CountryField
from django_otp.models import Device
from phonenumber_field.modelfields import PhoneNumberField


def default_currency() -> str:
    return settings.DEFAULT_CURRENCY


def normalize_email(email: str) -> str:
    return email.strip().lower()


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email=normalize_email(username or ""))

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        extra.setdefault("email_verified_at", timezone.now())
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField("email address", unique=True)
    is_staff = models.BooleanField(
        default=False, help_text="Can log into the staff admin at /admin/."
    )
    is_active = models.BooleanField(
        default=True, help_text="Unset to block the account instead of deleting it."
    )
    email_verified_at = models.DateTimeField(null=True, blank=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]
        constraints = [
            models.CheckConstraint(
                condition=Q(email=Lower("email")),
                name="accounts_user_email_lowercase",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_email_verified(self) -> bool:
        return self.email_verified_at is not None


class Customer(models.Model):
    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="customer")
    name = models.CharField("full name", max_length=200)
    company = models.CharField(max_length=200, blank=True)
    address_line1 = models.CharField("address", max_length=200, blank=True)
    address_line2 = models.CharField("address (line 2)", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField("state / region", max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = CountryField()
    phone = PhoneNumberField(blank=True)
    tax_id = models.CharField("tax / VAT id", max_length=50, blank=True)
    tax_exempt = models.BooleanField(
        default=False, help_text="Staff only: no tax is charged to this customer."
    )
    credit_auto_apply = models.BooleanField(
        "pay renewals from account credit",
        default=True,
        help_text="Available account credit pays renewal invoices when they are issued.",
    )
    preferred_currency = models.CharField(max_length=3, default=default_currency)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # Set when staff erased the customer's personal data (billing.services.erasure); the
    # financial records stay, under the anonymised profile.
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]  # names repeat: the id makes the order (and pages) total
        permissions = [
            ("act_as_customer", "Can act as the customer in the client area"),
            ("erase_customer", "Can erase a customer's personal data"),
        ]
        indexes = [
            models.Index(fields=["company"], name="accounts_customer_company_idx"),
            models.Index(fields=["name", "id"], name="accounts_customer_name_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.company})" if self.company else self.name


class Passkey(Device):
    """A WebAuthn credential (a passkey) of a user: a second factor after the password, or
    the first factor on its own ("Sign in with a passkey"). A django-otp device, so a session
    signed in with one counts as verified (`request.user.is_verified()`); it takes no typed
    token, so `verify_token` (the Device default) refuses every code."""

    credential_id = models.BinaryField(max_length=1023, unique=True)
    public_key = models.BinaryField()
    sign_count = models.PositiveBigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]


NOTE_MAX_LENGTH = 5000


class StaffNote(models.Model):
    """A note staff keep about a customer ("prefers email", "disputed March invoice"),
    written and changed only through accounts.services (each change audited, the body never
    copied into the audit log)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="staff_notes")
    author = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField(max_length=NOTE_MAX_LENGTH)
    pinned = models.BooleanField(default=False, help_text="Pinned notes are shown first.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # a customer's notes, pinned first (the summary page); the staff list, newest first
            models.Index(
                fields=["customer", "-pinned", "-created_at", "-id"], name="accounts_note_cust_idx"
            ),
            models.Index(fields=["-created_at", "-id"], name="accounts_note_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(body=""), name="accounts_staffnote_body_not_empty"),
        ]

    def __str__(self) -> str:
        return Truncator(self.body).chars(60)

    @property
    def changed(self) -> bool:
        """Whether it was edited or (un)pinned after it was written."""
        return self.updated_at - self.created_at > timedelta(seconds=1)


class DataExport(models.Model):
    """A customer's request for an archive of all their data (profile, services, invoices,
    payments, ledger, audit events), built by a task and kept for DATA_EXPORT_DAYS in the
    `data_exports` storage, outside the web root; the link to it is signed and expires with
    it. The database allows one export in progress per customer (`..._one_in_progress`)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        BUILDING = "building", "Being prepared"
        READY = "ready", "Ready to download"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"

    IN_PROGRESS = (Status.PENDING, Status.BUILDING)

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="data_exports")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    requested_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    file_name = models.CharField(max_length=255, blank=True)  # in the data_exports storage
    size = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [
            models.Index(
                fields=["customer", "-requested_at", "-id"], name="accounts_dataexport_cust_idx"
            ),
            models.Index(fields=["status", "expires_at"], name="accounts_dataexport_exp_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(status__in=["pending", "building"]),
                name="accounts_dataexport_one_in_progress",
            ),
        ]

    def __str__(self) -> str:
        return f"Data export {self.pk} ({self.get_status_display()})"

    @property
    def in_progress(self) -> bool:
        return self.status in self.IN_PROGRESS


class UserSession(models.Model):
    """A signed-in browser of a user, beside Django's own session row (django_session, which
    holds the data and its expiry): what the sessions page lists. Ending one deletes both,
    so that browser's next request finds no session and is signed out. The row follows the
    session's key when Django rotates it (login, password change); a row whose session is
    gone is not listed and is cleared by the daily housekeeping."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="signed_in_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    # Read from the user agent once, when the session is first seen ("Firefox 128 on Linux").
    device = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    # When it ends if unused: the idle timeout from the last request, never past its lifetime.
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        indexes = [
            models.Index(
                fields=["user", "-last_seen_at", "-id"], name="accounts_usersession_user_idx"
            ),
            models.Index(fields=["expires_at"], name="accounts_usersession_exp_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.device or 'an unknown device'}"


class ApiKey(models.Model):
    """A key a machine client sends as `Authorization: Bearer <key>` to act as `user`, within
    its scopes. The full key is shown once, when it is made: the portal keeps its public
    `prefix` (to find the row) and the SHA-256 of its secret part (compared in constant
    time). A key is never deleted, only revoked, so the audit log keeps pointing at it.

    Customer scopes let a key do what its customer can in the client area; staff scopes act
    with the staff user's own admin permissions as well (a key never exceeds its user)."""

    class Scope(models.TextChoices):
        READ = "read", "Read the account (services, invoices, balances)"
        SERVICES = "services", "Manage services"
        BILLING = "billing", "Pay invoices and move money"
        DNS = "dns", "Manage DNS zones and records"
        STAFF_READ = "staff:read", "Staff: read customers, services and billing"
        STAFF_SERVICES = "staff:services", "Staff: provision and manage services and servers"
        STAFF_BILLING = "staff:billing", "Staff: invoices, payments, credit and tokens"

    CUSTOMER_SCOPES = (Scope.READ, Scope.SERVICES, Scope.BILLING, Scope.DNS)
    STAFF_SCOPES = (Scope.STAFF_READ, Scope.STAFF_SERVICES, Scope.STAFF_BILLING)

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    # Networks (CIDR) requests with this key may come from; empty: any address.
    allowed_ips = models.JSONField("allowed IP networks", default=list, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="accounts_apikey_user_idx"),
            # the admin's list, newest first
            models.Index(fields=["-created_at", "-id"], name="accounts_apikey_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_active(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "Revoked"
        return "Active" if self.is_active() else "Expired"

    def scope_labels(self) -> list[str]:
        return [str(self.Scope(s).label) for s in self.scopes if s in self.Scope.values]


class IdempotencyKey(models.Model):
    """The first answer to a POST sent with an `Idempotency-Key` header, per user and key
    (Brandur Leach's and Stripe's design): a retry with the same key and body gets the stored
    answer again, the same key with another body is refused (422), and a retry while the
    first request is still running is refused (409). `locked_at` marks a request in flight; a
    lock older than API_IDEMPOTENCY_LOCK_SECONDS is from a request that died, and may be
    taken over (the services called are idempotent by a key derived from this row, so running
    one again has no second effect)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)  # SHA-256 of method, path and body
    locked_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # The JSON text exactly as first rendered: jsonb would reorder the keys, so a replay
    # would differ from the first answer in its bytes.
    response_body = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="accounts_idempotencykey_unique"),
        ]

    def __str__(self) -> str:
        return self.key


class EmailPreferences(models.Model):
    """Which optional emails a customer gets (accounts/email_preferences.py). Security
    notices, invoices and reminders are not optional and have no switch here; nor do
    announcements, whose opt-out is support's `AnnouncementOptOut`. No row: every optional
    email is sent (the defaults)."""

    customer = models.OneToOneField(
        Customer, on_delete=models.CASCADE, related_name="email_preferences"
    )
    payment_receipts = models.BooleanField(
        default=True, help_text="A receipt, with the invoice as PDF, for every payment."
    )
    account_updates = models.BooleanField(
        "service and credit updates",
        default=True,
        help_text="When a suspended service is running again, or staff add account credit.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "email preferences"

    def __str__(self) -> str:
        return f"Email preferences of {self.customer}"
