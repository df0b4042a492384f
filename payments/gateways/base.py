"""What every gateway adapter offers, one small Protocol per capability."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class WebhookInvalid(Exception):
    """The delivery is not a genuine, fresh, well-formed event: answer 400, apply nothing."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class VerifiedEvent:
    event_id: str
    event_type: str
    payload: dict[str, Any]


class WebhookVerifier(Protocol):
    name: str

    def verify(self, *, body: bytes, headers: Mapping[str, str]) -> VerifiedEvent:
        """Check the delivery's authenticity and freshness against the raw body.

        Raises WebhookInvalid for a missing, wrong, tampered, stale or future signature and
        for a body that is not an event. Never touches the database."""
