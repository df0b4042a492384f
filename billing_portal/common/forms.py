"""Form fields and helpers the client-area forms share, so that bad input becomes a form error
(shown as a message, or answered 400/404) instead of reaching the database as something it
refuses, which would answer 500.

Python's int() and Decimal() read digits of every script ("١٢٣" is 123) and numbers of any
size, and PostgreSQL refuses NUL characters, over-long strings and out-of-range integers; the
fields here accept only what the columns and the services behind them take.
"""

from __future__ import annotations

import re
import unicodedata

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.http import HttpRequest

from billing_portal.common.hostnames import NAME_MAX, domain_name_ascii, host_name_ascii

ID_MAX = 2**63 - 1  # BigAutoField, the primary key of every table
WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")
FORM_EXPIRED = "This form has expired: reload the page and try again."
# Explicit embeddings, overrides and isolates: they make text display as something it is not.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def whole_number(value: object) -> int | None:
    """`value` as an int when it is written in ASCII digits (with an optional sign), else
    None."""
    text = str(value).strip()
    return int(text) if WHOLE_NUMBER.fullmatch(text) else None


def object_id(value: object) -> int | None:
    """`value` as a primary key (a whole number from 1 up to the key's range), else None:
    for ids read from query strings and hidden fields."""
    number = whole_number(value)
    return number if number is not None and 0 < number <= ID_MAX else None


def validate_single_line(value: str) -> None:
    """Refuse control characters (NUL, line breaks, escapes) and text-direction overrides in
    text that is shown on one line: names, addresses, codes."""
    if any(unicodedata.category(char) == "Cc" or char in BIDI_CONTROLS for char in value):
        raise ValidationError(
            "Remove control characters (such as line breaks or text-direction marks).",
            code="control_characters",
        )


class SingleLineCharField(forms.CharField):
    default_validators = [validate_single_line]


class WholeNumberField(forms.IntegerField):
    """An integer in ASCII digits; give it bounds (min_value, max_value), as every column and
    quantity has them."""

    def to_python(self, value) -> int | None:
        if value in self.empty_values or (isinstance(value, str) and not value.strip()):
            return None
        number = whole_number(value)
        if number is None:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return number


class IdChoiceField(forms.ModelChoiceField):
    """An object chosen by its id, in ASCII digits and within the key's range."""

    def to_python(self, value) -> Model | None:
        if value in self.empty_values:
            return None
        number = object_id(value)
        if number is None:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(number)


class TokenField(forms.SlugField):
    """An opaque key made of ASCII letters, digits, '-' and '_': a provider's reference in a
    return URL, or the one-time key a page puts in its form so that a double submission
    counts once."""

    def __init__(self, *, max_length: int, **kwargs) -> None:
        super().__init__(max_length=max_length, **kwargs)


class RequestKeyField(TokenField):
    """The page's one-time key (optional: without it each submission counts); anything else
    is a form from elsewhere or tampered with."""

    default_error_messages = dict.fromkeys(
        ("invalid", "max_length", "null_characters_not_allowed"), FORM_EXPIRED
    )

    def __init__(self, **kwargs) -> None:
        super().__init__(max_length=64, required=False, **kwargs)


class HostNameField(forms.CharField):
    """A host name (server1.example.com, or a single label such as mc1), cleaned to the
    lower-case ASCII form that is stored."""

    default_error_messages = {"invalid": "Enter a host name such as server1.example.com."}

    def __init__(self, **kwargs) -> None:
        super().__init__(max_length=NAME_MAX, **kwargs)

    def to_python(self, value) -> str:
        value = super().to_python(value)
        if value in self.empty_values:
            return value
        try:
            return self.to_ascii(value)
        except ValueError as exc:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from exc

    @staticmethod
    def to_ascii(value: str) -> str:
        return host_name_ascii(value)


class DomainNameField(HostNameField):
    """A domain the customer owns (example.com, not a public suffix such as co.uk)."""

    default_error_messages = {"invalid": "Enter a domain name such as example.com."}

    @staticmethod
    def to_ascii(value: str) -> str:
        return domain_name_ascii(value)


def message_form_errors(request: HttpRequest, form: forms.Form) -> None:
    """Each of the form's errors as an error message, for forms whose page redirects."""
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, error)
