"""Money precision and conversions, in one place.

Amounts are django-money `Money` (Decimal plus currency), never float. Model fields and
migrations use the constants below so precision is changed in exactly one place.
"""

from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q, Value
from djmoney.models.fields import MoneyField
from djmoney.money import Money
from moneyed import CurrencyDoesNotExist, get_currency

MONEY_MAX_DIGITS = 14
MONEY_DECIMAL_PLACES = 2
ROUNDING = ROUND_HALF_UP


def currency_exponent(currency_code: str) -> int:
    """Minor-unit digits of a currency (2 for USD, 0 for JPY, 3 for KWD)."""
    sub_unit = get_currency(currency_code).sub_unit or 1
    return len(str(sub_unit)) - 1


def money_quantize(amount: Money) -> Money:
    """Round to the currency's minor unit with the portal's one rounding rule."""
    exponent = Decimal(1).scaleb(-currency_exponent(str(amount.currency)))
    return Money(amount.amount.quantize(exponent, rounding=ROUNDING), amount.currency)


def money_to_minor_units(amount: Money) -> int:
    """Integer minor units (cents) for gateways such as Stripe; refuses lossy conversion."""
    exact = amount.amount.scaleb(currency_exponent(str(amount.currency)))
    if exact != exact.to_integral_value():
        raise ValueError(f"{amount} has more precision than its currency's minor unit.")
    return int(exact)


def money_from_minor_units(value: int, currency_code: str) -> Money:
    """The inverse of money_to_minor_units."""
    return Money(Decimal(value).scaleb(-currency_exponent(currency_code)), currency_code)


def validate_currency_code(value: str) -> None:
    try:
        get_currency(value)
    except CurrencyDoesNotExist as exc:
        raise ValidationError(f"{value!r} is not an ISO 4217 currency code.") from exc


def currency_field(**kwargs) -> models.CharField:
    """The one currency column of a row holding money; declare it before the money fields.

    Declared explicitly (django-money then reuses it) so migrations do not capture the
    CURRENCIES setting as choices: which currencies a provider sells is configuration.
    """
    kwargs.setdefault("max_length", 3)
    kwargs.setdefault("validators", [validate_currency_code])
    return models.CharField(**kwargs)


def money_field(**kwargs) -> MoneyField:
    """A MoneyField with the portal's precision, amounts in the row's `currency` column.

    No defaults: a default amount would need a currency, which is the row's to say. Services
    always set every amount.
    """
    kwargs.setdefault("max_digits", MONEY_MAX_DIGITS)
    kwargs.setdefault("decimal_places", MONEY_DECIMAL_PLACES)
    kwargs.setdefault("currency_field_name", "currency")
    return MoneyField(**kwargs)


def money_zero(currency: str) -> Money:
    return Money(Decimal("0"), currency)


def money_adds_up_constraint(
    name: str, total: str, *, plus: tuple[str, ...], minus: tuple[str, ...] = ()
) -> models.CheckConstraint:
    """CHECK that `total` = sum(plus) - sum(minus), for money columns of one row.

    Amounts have two decimal places, so "within half a cent" is exact equality; the
    tolerance only absorbs SQLite, which stores decimals as floating point and would
    otherwise fail on 6.43 != 6.0 - 0.6 + 1.03.
    """
    expected = sum((F(field) for field in plus[1:]), F(plus[0]))
    for field in minus:
        expected = expected - F(field)
    half_cent = Value(Decimal("0.005"))
    return models.CheckConstraint(
        condition=Q(**{f"{total}__gt": expected - half_cent, f"{total}__lt": expected + half_cent}),
        name=name,
    )
