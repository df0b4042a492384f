"""Users, customer profiles and the audit log.

- `User` logs in with an email address (no username). Emails are stored lower-cased, so the
  unique constraint is case-insensitive in practice.
- `Customer` is the billing identity of a user: everything a customer owns (services,
  invoices, credit) points here, and client-area selectors scope by it.
- `AuditEvent` is an append-only record of everything that moves money, changes a service
  or touches an account. The action is a closed enum, enforced by a CHECK constraint.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django_countries.fields import CountryField
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

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["company"], name="accounts_customer_company_idx"),
            models.Index(fields=["name"], name="accounts_customer_name_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.company})" if self.company else self.name


class AuditAction(models.TextChoices):
    """The closed set of audited actions; extend it with a migration."""

    ACCOUNT_REGISTERED = "account.registered", "Account registered"
    EMAIL_VERIFIED = "account.email_verified", "Email verified"
    LOGIN = "account.login", "Logged in"
    LOGIN_FAILED = "account.login_failed", "Login failed"
    LOGIN_LOCKED_OUT = "account.login_locked_out", "Login locked out"
    LOGOUT = "account.logout", "Logged out"
    PASSWORD_CHANGED = "account.password_changed", "Password changed"
    PASSWORD_RESET_REQUESTED = "account.password_reset_requested", "Password reset requested"
    PROFILE_CHANGED = "account.profile_changed", "Profile changed"
    ORDER_PLACED = "order.placed", "Order placed"
    ORDER_CANCELLED = "order.cancelled", "Order cancelled"
    INVOICE_ISSUED = "invoice.issued", "Invoice issued"
    CREDIT_NOTE_ISSUED = "invoice.credit_note_issued", "Credit note issued"
    CREDIT_ADDED = "credit.added", "Credit added"
    CREDIT_REMOVED = "credit.removed", "Credit removed"
    SERVICE_PROVISIONED = "service.provisioned", "Service provisioned"
    SERVICE_PROVISION_FAILED = "service.provision_failed", "Service provisioning failed"
    SERVICE_SUSPENDED = "service.suspended", "Service suspended"
    SERVICE_UNSUSPENDED = "service.unsuspended", "Service unsuspended"
    SERVICE_TERMINATED = "service.terminated", "Service terminated"
    SERVICE_RENEWED = "service.renewed", "Service renewed"
    SERVICE_CANCELLED = "service.cancelled", "Service cancelled"
    SERVICE_PLAN_CHANGED = "service.plan_changed", "Service plan changed"
    DNS_PLAN_BOUGHT = "dns.plan_bought", "DNS plan bought or changed"
    DNS_PLAN_CANCELLED = "dns.plan_cancelled", "DNS plan auto-renewal stopped"
    DNS_ZONE_CREATED = "dns.zone_created", "DNS zone created"
    DNS_ZONE_DELETED = "dns.zone_deleted", "DNS zone deleted"
    DNS_RECORDS_CHANGED = "dns.records_changed", "DNS records changed"
    INVOICE_PAID = "invoice.paid", "Invoice paid"
    INVOICE_CANCELLED = "invoice.cancelled", "Invoice cancelled"
    PAYMENT_RECEIVED = "payment.received", "Payment received"
    PAYMENT_HELD = "payment.held", "Payment held for review"
    PAYMENT_REFUNDED = "payment.refunded", "Payment refunded"
    PAYMENT_DENIED = "payment.denied", "Payment denied"
    CREDIT_PURCHASED = "credit.purchased", "Credit purchased"
    TOKENS_ADDED = "tokens.added", "VPS tokens added"
    TOKENS_CANCELLED = "tokens.cancelled", "VPS token credit cancelled"
    TOKENS_DELIVERY_FAILED = "tokens.delivery_failed", "VPS tokens could not be added"
    TOKENS_RESOLVED = "tokens.resolved", "Pending VPS tokens resolved by staff"
    TOKENS_REMOVED = "tokens.removed", "Refunded VPS tokens taken back"
    REFUND_SHORTFALL = "refund.shortfall", "Refund could not take back what was bought"
    REFUND_SHORTFALL_RESOLVED = "refund.shortfall_resolved", "Refund shortfall resolved"


class AuditEvent(models.Model):
    Action = AuditAction

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Frozen so the trail still says who acted after the user row changes or goes.
    actor_label = models.CharField(max_length=254, blank=True)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    action = models.CharField(max_length=64, choices=Action.choices, db_index=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    details = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="accounts_audit_customer_idx"),
            models.Index(fields=["object_type", "object_id"], name="accounts_audit_object_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=AuditAction.values),
                name="accounts_auditevent_action_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} at {self.created_at:%Y-%m-%d %H:%M:%S} UTC"
