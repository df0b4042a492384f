"""VirtFusion VPS tokens on the panel: whether they are offered, what an amount is worth in
tokens, a customer's balance (cached briefly), and the calls that add and take back a credit.

Tokens live in VirtFusion; what the portal records about each credit it makes (the purchase,
its delivery and its removal) is billing's (`billing.services.tokens`), which calls these.
The calls raise the panels' errors (`PanelError`, an ExternalServiceError): the operation
kernel that runs them decides on retries.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import cast

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from djmoney.money import Money

from accounts.models import Customer
from billing_portal.common.errors import ExternalServiceUnavailable
from provisioning.errors import PanelError
from provisioning.panels.virtfusion import VirtFusionClient

logger = logging.getLogger(__name__)

TOKENS_QUANTUM = Decimal("0.01")
UNREACHABLE_CACHE_SECONDS = 30
NOT_OFFERED = "VPS tokens are not available at the moment."


def tokens_enabled() -> bool:
    return VirtFusionClient.from_settings() is not None


def token_currency() -> str:
    return cast(str, settings.VIRTFUSION_TOKEN_CURRENCY)


def tokens_for(amount: Money) -> Decimal:
    return (amount.amount * settings.VIRTFUSION_TOKENS_PER_UNIT).quantize(TOKENS_QUANTUM)


def tokens_value(tokens: Decimal) -> Money:
    return Money(
        (tokens / settings.VIRTFUSION_TOKENS_PER_UNIT).quantize(TOKENS_QUANTUM), token_currency()
    )


def _client() -> VirtFusionClient:
    client = VirtFusionClient.from_settings()
    if client is None:  # switched off since the caller checked: worth trying again later
        raise ExternalServiceUnavailable(NOT_OFFERED)
    return client


# --- Balance ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenBalance:
    reachable: bool
    tokens: Decimal | None = None  # None: no VirtFusion account yet (or unreachable)

    @property
    def value(self) -> Money | None:
        return tokens_value(self.tokens) if self.tokens is not None else None


def _balance_key(customer_id: int) -> str:
    # The key predates the move from credits: a deploy keeps the cached balances.
    return f"credits:token-balance:{customer_id}"


def token_balance_get(*, customer: Customer) -> TokenBalance | None:
    """The customer's token balance, read from VirtFusion and cached briefly; `reachable` is
    False when VirtFusion could not be asked. None when tokens are not offered."""
    client = VirtFusionClient.from_settings()
    if client is None:
        return None
    cached: TokenBalance | None = cache.get(_balance_key(customer.pk))
    if cached is not None:
        return cached
    try:
        balance = TokenBalance(True, client.token_balance(ext_relation_id=customer.pk))
        timeout = settings.VIRTFUSION_BALANCE_CACHE_SECONDS
    except PanelError as error:
        logger.warning("VirtFusion balance of customer %s: %s", customer.pk, error.message)
        balance, timeout = TokenBalance(False), UNREACHABLE_CACHE_SECONDS
    cache.set(_balance_key(customer.pk), balance, timeout)
    return balance


def token_balance_forget(*, customer_id: int) -> None:
    """The balance changed: drop the cached one once the change commits."""
    transaction.on_commit(lambda: cache.delete(_balance_key(customer_id)))


# --- Calls --------------------------------------------------------------------------------


def token_credit_add(
    *, customer: Customer, tokens: Decimal, reference_1: int, reference_2: str
) -> int:
    """Add `tokens` to the customer's VirtFusion user (created on first use); returns
    VirtFusion's credit id. VirtFusion's call has no idempotency key: the caller sends it at
    most once per uncertain outcome."""
    client = _client()
    client.user_ensure(
        ext_relation_id=customer.pk,
        name=customer.name or customer.user.email,
        email=customer.user.email,
    )
    return client.token_credit_add(
        ext_relation_id=customer.pk,
        tokens=tokens,
        reference_1=reference_1,
        reference_2=reference_2,
    )


def token_credit_cancel(*, credit_id: int) -> None:
    """Take one credit back out of VirtFusion (whole credits only)."""
    _client().token_credit_cancel(credit_id=credit_id)


def token_balance_read(*, customer_id: int) -> Decimal | None:
    """The customer's balance as VirtFusion says it now (not cached); None without a
    VirtFusion user."""
    return _client().token_balance(ext_relation_id=customer_id)
