"""Backoff for work retried by the portal's own schedulers (panel operations, DNS pushes,
token deliveries): exponential from `base`, capped, with jitter so retries spread out."""

from __future__ import annotations

import random
from datetime import timedelta


def backoff(attempts: int, *, base: timedelta, cap: timedelta, jitter: float = 0.2) -> timedelta:
    """The wait before attempt `attempts + 1` (attempts counts those made, from 1)."""
    delay = min(base * 2 ** max(attempts - 1, 0), cap)
    return delay + delay * random.uniform(0, jitter)  # noqa: S311 (jitter, not a secret)
