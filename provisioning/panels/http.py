"""The HTTP layer every panel adapter shares: one session, timeouts, and one mapping from
transport failures and status codes to PanelError.

- timeouts, connection errors, 423, 429 and 5xx are retryable; other 4xx are permanent;
- `may_have_applied` tells a non-idempotent caller whether the panel may have done the work
  although we have no answer: only when the request is known not to have reached the panel
  (the connection was never made) or the panel says it did nothing (429, 502-504, 4xx) is it
  False;
- panel error bodies (JSON with msg/message/errors/error, HTML pages, plain text) become one
  short human message.
"""

from __future__ import annotations

import html
import re
from typing import Any

import requests
from urllib3.exceptions import ConnectTimeoutError

from provisioning.errors import PanelError, PanelPermanentError, PanelRetryableError

STANDARD_TIMEOUT = 25  # seconds to wait for an answer
CREATE_TIMEOUT = 60  # creating accounts and servers is slower on most panels
CONNECT_TIMEOUT = 10
MESSAGE_LIMIT = 300
# Answers that mean the request was not carried out: throttled, or a proxy in front of the
# panel could not reach it.
NOT_APPLIED_STATUSES = frozenset({423, 429, 502, 503, 504})
# 423 Locked: the panel is busy with the target (e.g. VirtFusion's "Do Not Disturb"); later.
RETRY_LATER_STATUSES = frozenset({423, 429})


def _request_never_sent(error: requests.RequestException) -> bool:
    """True when the connection was never made, so the panel cannot have seen the request."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    if isinstance(error, requests.ConnectionError) and error.args:
        reason = getattr(error.args[0], "reason", error.args[0])
        # NewConnectionError and NameResolutionError are ConnectTimeoutError subclasses.
        return isinstance(reason, ConnectTimeoutError)
    return False


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value:
        return _text_of(value[0])
    if isinstance(value, dict):
        for key in ("detail", "msg", "message", "error", "code"):
            if key in value:
                return _text_of(value[key])
        first = next(iter(value.values()), "")
        return _text_of(first)
    return str(value) if value not in (None, "", [], {}) else ""


def error_message(response: requests.Response) -> str:
    """A short human message from a panel's error answer, whatever its shape."""
    try:
        body = response.json()
    except ValueError:
        body = None
    text = ""
    if isinstance(body, dict):
        for key in ("msg", "message", "errors", "error", "detail"):
            if body.get(key):
                text = _text_of(body[key])
                break
    if not text:
        raw = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", response.text or "")
        text = html.unescape(re.sub(r"<[^>]+>", " ", raw))
    text = " ".join(text.split())
    if not text:
        text = response.reason or f"HTTP {response.status_code}"
    return text[:MESSAGE_LIMIT]


def error_for_response(response: requests.Response, *, panel: str) -> PanelError:
    status = response.status_code
    message = f"{panel} answered {status}: {error_message(response)}"
    if status in RETRY_LATER_STATUSES or status >= 500:
        return PanelRetryableError(
            message, status=status, may_have_applied=status not in NOT_APPLIED_STATUSES
        )
    return PanelPermanentError(message, status=status)


def json_headers(*, bearer: str = "") -> dict[str, str]:
    """The JSON request headers most panel APIs take, with a Bearer token when given."""
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    return {"Authorization": f"Bearer {bearer}", **headers} if bearer else headers


class PanelHttp:
    """One requests session per adapter instance, with the portal's timeouts."""

    def __init__(self, *, panel: str, base_url: str, headers: dict[str, str]) -> None:
        self.panel = panel
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update(headers)

    def request(
        self, method: str, path: str, *, timeout: float = STANDARD_TIMEOUT, **kwargs: Any
    ) -> requests.Response:
        """Send one request; return the response when it is 2xx, else raise PanelError."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        try:
            response = self.session.request(
                method, url, timeout=(CONNECT_TIMEOUT, timeout), **kwargs
            )
        except requests.RequestException as error:
            never_sent = _request_never_sent(error)
            kind = "could not be reached" if never_sent else "did not answer in time"
            raise PanelRetryableError(
                f"{self.panel} {kind} ({type(error).__name__}).", may_have_applied=not never_sent
            ) from error
        if not response.ok:
            raise error_for_response(response, panel=self.panel)
        return response
