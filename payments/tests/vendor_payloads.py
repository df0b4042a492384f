"""Providers' webhook payloads stored as files under fixtures/<vendor>/<name>.json, each
named after its event type (with a suffix for a variant: `.unpaid`, `.foreign`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from billing_portal.common.testing import load_fixture

FIXTURES = Path(__file__).parent / "fixtures"


def names(vendor: str) -> list[str]:
    return sorted(path.stem for path in (FIXTURES / vendor).glob("*.json"))


def load(vendor: str, name: str) -> dict[str, Any]:
    return load_fixture(__file__, vendor, name)


def event_type(vendor: str, payload: dict[str, Any]) -> str:
    """The envelope's event type (`type` at Stripe, `event_type` at PayPal)."""
    return payload.get("type") or payload["event_type"]
