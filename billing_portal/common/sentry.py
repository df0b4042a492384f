"""Error reports to Sentry, started from settings only when SENTRY_DSN is set.

Nothing that identifies a customer or opens an account leaves with a report: the SDK sends
no default PII (`send_default_pii=False`: no cookies, user, IP or headers it considers
sensitive), its event scrubber filters secret-named keys at every depth, and `before_send`
then removes cookies, credential headers and every user field but the id, filters keys
that name a password, secret or token, and replaces email addresses and card numbers
(13-19 digits passing the Luhn check) anywhere in the event's text.
"""

from __future__ import annotations

import re
from typing import Any

from billing_portal.common.context import request_id_get

FILTERED = "[Filtered]"
# Also URL-encoded ("%40"), as in a query string.
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# 13 to 19 digits, optionally grouped by single spaces or dashes, not part of a longer number.
CARD_LIKE = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
SECRET_KEY_PARTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "csrf",
    "session",
    "api_key",
    "apikey",
    "card_number",
    "cvc",
    "cvv",
)


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _card(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[card]" if _luhn_valid(digits) else match.group(0)


def scrub_text(text: str) -> str:
    return CARD_LIKE.sub(_card, EMAIL.sub("[email]", text))


def _secret_key(key: Any) -> bool:
    return isinstance(key, str) and any(part in key.lower() for part in SECRET_KEY_PARTS)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {
            key: FILTERED if _secret_key(key) and item else _scrub(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


def before_send(event: dict[str, Any], hint: dict[str, Any] | None) -> dict[str, Any]:
    """Sentry's last look at an event before it is sent (also `before_send_transaction`)."""
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("cookies", None)
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {
                name: value for name, value in headers.items() if name.lower() not in SECRET_HEADERS
            }
    if isinstance(event.get("user"), dict):
        event["user"] = {key: value for key, value in event["user"].items() if key == "id"}
    if request_id := request_id_get():
        event.setdefault("tags", {})["request_id"] = request_id
    return _scrub(event)


def sentry_init(*, dsn: str, environment: str, traces_sample_rate: float) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.scrubber import EventScrubber

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        event_scrubber=EventScrubber(recursive=True),
        before_send=before_send,
        before_send_transaction=before_send,
        traces_sample_rate=traces_sample_rate,
    )
