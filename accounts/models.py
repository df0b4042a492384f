"""Users and customer profiles (the audit log is the kernel's: billing_portal/common/audit.py).

- `User` logs in with an email address (no username). Emails are stored lower-cased, so the
  unique constraint is case-insensitive in practice.
- `Customer` is the billing identity of a user: everything a customer owns (services,
  invoices, credit) points here, and client-area selectors scope by it.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
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

    class Meta:
        ordering = ["name", "id"]  # names repeat: the id makes the order (and pages) total
        permissions = [("act_as_customer", "Can act as the customer in the client area")]
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
