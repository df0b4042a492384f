from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models.expressions import Combinable
from djmoney.money import Money

class MoneyField(models.DecimalField[Any, Any]):
    """What django-stubs is told a money column takes: Money as well as the Decimal amounts of
    the DecimalField it extends (the amount in the row's currency). Reads stay untyped."""

    # Wider than DecimalField's on purpose: a money column takes Money too.
    _pyi_private_set_type: Money | Decimal | str | float | Combinable
    _pyi_lookup_exact_type: Money | Decimal | str | int
    def __init__(self, *args: Any, **kwargs: Any) -> None: ...
