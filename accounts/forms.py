"""Client-area account forms: input shape and field validation only."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django_countries.fields import CountryField

from accounts.errors import ApiKeyRefused
from accounts.models import ApiKey, Customer, User, normalize_email
from accounts.services import PROFILE_FIELDS, api_key_networks_parse
from billing_portal.common.forms import SingleLineCharField, validate_single_line
from billing_portal.common.vat import eu_vat_number_valid, is_eu_member


class RegistrationForm(forms.Form):
    name = SingleLineCharField(label="Full name", max_length=200)
    company = SingleLineCharField(max_length=200, required=False)
    email = forms.EmailField(max_length=254)
    country = CountryField().formfield()
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Confirm password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_email(self) -> str:
        return normalize_email(self.cleaned_data["email"])

    def clean(self) -> dict:
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", "The two passwords do not match.")
        elif password1:
            # An unsaved user lets the similarity validator compare against the email.
            probe = User(email=cleaned.get("email", ""))
            try:
                password_validation.validate_password(password1, probe)
            except ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class LoginForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "The email address or password is incorrect.",
        "unverified": "Please verify your email address first: follow the link we emailed you.",
    }

    def confirm_login_allowed(self, user: User) -> None:
        super().confirm_login_allowed(user)
        if not user.is_email_verified:
            resend = reverse("accounts:resend_verification")
            raise ValidationError(
                format_html(
                    '{} <a href="{}">Send a new link</a>.',
                    self.error_messages["unverified"],
                    resend,
                ),
                code="unverified",
            )


class EmailForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autofocus": True}))


class ProfileForm(forms.ModelForm):
    preferred_currency = forms.ChoiceField(choices=())

    class Meta:
        model = Customer
        fields = PROFILE_FIELDS
        help_texts = {"phone": "International format, for example +44 20 7946 0958."}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["preferred_currency"].choices = [(c, c) for c in settings.CURRENCIES]
        for field in self.fields.values():  # names, addresses and ids are one line each
            if type(field) is forms.CharField:
                field.validators.append(validate_single_line)

    def clean(self) -> dict:
        cleaned = super().clean()
        country = str(cleaned.get("country") or "")
        tax_id = (cleaned.get("tax_id") or "").strip()
        # EU VAT numbers decide reverse charge, so their format and checksum are checked
        # (offline; no VIES lookup). Other countries' tax ids are free text.
        if (
            tax_id
            and is_eu_member(country)
            and not eu_vat_number_valid(number=tax_id, country_code=country)
        ):
            prefix = "EL" if country == "GR" else country
            self.add_error(
                "tax_id", f"Enter a valid {country} VAT number, for example {prefix}123456789."
            )
        return cleaned


class SecondFactorCodeForm(forms.Form):
    """The code from an authenticator app (six digits) or a recovery code."""

    code = forms.CharField(
        label="Code",
        max_length=32,
        strip=True,
        widget=forms.TextInput(
            attrs={
                "autofocus": True,
                "autocomplete": "one-time-code",
                "inputmode": "text",
                "autocapitalize": "off",
                "spellcheck": "false",
            }
        ),
        help_text="The six-digit code from your authenticator app, or one of your recovery codes.",
    )

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].split())
        if not (code.isascii() and code.isalnum()):
            raise ValidationError("Enter the code as shown: letters and digits only.")
        return code


class TotpConfirmForm(forms.Form):
    """The first code of a new authenticator app: six digits."""

    code = forms.CharField(
        label="Code from the app",
        max_length=32,
        widget=forms.TextInput(
            attrs={"autofocus": True, "autocomplete": "one-time-code", "inputmode": "numeric"}
        ),
        help_text="The six-digit code the app shows for this account now.",
    )

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].split())
        if not (code.isascii() and code.isdigit() and len(code) == 6):
            raise ValidationError("Enter the six digits the app shows.")
        return code


class ReauthForm(SecondFactorCodeForm):
    """The password and a current code again, before the second factor or the email is
    changed; the password alone for a user without a second factor (`with_code=False`)."""

    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    field_order = ["password", "code"]

    def __init__(self, *args: Any, with_code: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not with_code:
            del self.fields["code"]


class EmailChangeForm(forms.Form):
    new_email = forms.EmailField(
        label="New email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
        help_text="We send a link to this address; your address changes when you open it.",
    )


class PasskeyNameForm(forms.Form):
    name = SingleLineCharField(
        label="Name of this passkey",
        max_length=64,
        required=False,
        help_text="For example the device or password manager that holds it.",
    )


API_KEY_MAX_YEARS = 3


class ApiKeyForm(forms.Form):
    name = SingleLineCharField(
        max_length=100, help_text="What the key is for, e.g. “Monitoring script”."
    )
    scopes = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple, help_text="Give the key only what it needs."
    )
    valid_until = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The last day the key works (UTC). Empty: until you revoke it.",
    )
    allowed_ips = forms.CharField(
        label="Allowed IP addresses",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "203.0.113.10\n198.51.100.0/24"}),
        help_text="One address or network a line. Empty: any address.",
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        scopes = ApiKey.CUSTOMER_SCOPES + (ApiKey.STAFF_SCOPES if user.is_staff else ())
        self.fields["scopes"].choices = [(scope.value, scope.label) for scope in scopes]
        self.fields["scopes"].initial = [ApiKey.Scope.READ]

    def clean_valid_until(self) -> date | None:
        valid_until: date | None = self.cleaned_data["valid_until"]
        today = timezone.now().date()
        latest = today + timedelta(days=365 * API_KEY_MAX_YEARS)
        if valid_until is not None and valid_until < today:
            raise ValidationError("Choose today or a later day.")
        if valid_until is not None and valid_until > latest:
            raise ValidationError(f"A key can be valid for at most {API_KEY_MAX_YEARS} years.")
        return valid_until

    def clean_allowed_ips(self) -> list[str]:
        try:
            return api_key_networks_parse(self.cleaned_data["allowed_ips"])
        except ApiKeyRefused as error:
            raise ValidationError(error.message) from error

    def expires_at(self) -> datetime | None:
        """The key stops working when its last day ends (UTC)."""
        valid_until = self.cleaned_data["valid_until"]
        if valid_until is None:
            return None
        return datetime.combine(valid_until + timedelta(days=1), time.min, tzinfo=UTC)


class StaffApiKeyForm(ApiKeyForm):
    """Staff making a key in the admin, for a customer's integration or a staff user's own
    (staff scopes only for a staff user: the service refuses them for anyone else)."""

    email = forms.EmailField(label="User's email address", max_length=254)
    field_order = ["email", "name", "scopes", "valid_until", "allowed_ips"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, user=User(is_staff=True), **kwargs)

    def clean_email(self) -> User:
        user = User.objects.filter(email=normalize_email(self.cleaned_data["email"])).first()
        if user is None:
            raise ValidationError("No user has this email address.")
        return user
