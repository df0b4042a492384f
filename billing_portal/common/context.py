"""The request id: one token per web request that follows it into its log lines and into
every Celery task it queues (and the tasks those queue), so one search finds all of it.

The web side sets it in `RequestIdMiddleware`; `before_task_publish` copies it into the
task's message headers under REQUEST_ID_HEADER; the worker's `task_prerun` restores it
around the task. A publisher outside the request (the outbox relay) passes the id it
stored explicitly: `task.apply_async(..., headers={REQUEST_ID_HEADER: stored_id})`, which
wins over the one of the current context.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar, Token
from typing import Any

from celery.signals import before_task_publish, task_postrun, task_prerun

REQUEST_ID_HEADER = "request_id"  # the Celery message header
# What we accept from the proxy: short, and only characters safe in any log format.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def request_id_get() -> str | None:
    return _request_id.get()


def request_id_set(value: str | None) -> Token:
    """Set the id for the current context; pass the token to `request_id_reset`."""
    return _request_id.set(value)


def request_id_reset(token: Token) -> None:
    _request_id.reset(token)


def request_id_new() -> str:
    return uuid.uuid4().hex


def request_id_valid(value: str | None) -> bool:
    return bool(value) and REQUEST_ID_PATTERN.fullmatch(value) is not None


@before_task_publish.connect(dispatch_uid="request_id_publish")
def _request_id_to_headers(headers: dict[str, Any] | None = None, **_: Any) -> None:
    # An id passed explicitly in apply_async(headers=...) is kept (the outbox relay's).
    current = request_id_get()
    if headers is not None and current and not headers.get(REQUEST_ID_HEADER):
        headers[REQUEST_ID_HEADER] = current


def _request_id_of(task: Any) -> str | None:
    # A worker sees custom message headers as request attributes; an eager run keeps the
    # headers passed to apply_async in `request.headers`.
    value = task.request.get(REQUEST_ID_HEADER) or (task.request.headers or {}).get(
        REQUEST_ID_HEADER
    )
    return value if request_id_valid(value) else None


@task_prerun.connect(dispatch_uid="request_id_prerun")
def _request_id_restore(task: Any = None, **_: Any) -> None:
    # Eager tasks run inside the caller's context and keep its id; a task queued by no
    # request (beat) gets one of its own, which its own tasks then carry.
    incoming = _request_id_of(task) or request_id_get() or request_id_new()
    task.request.request_id_token = request_id_set(incoming)


@task_postrun.connect(dispatch_uid="request_id_postrun")
def _request_id_clear(task: Any = None, **_: Any) -> None:
    token = getattr(task.request, "request_id_token", None)
    if token is not None:
        request_id_reset(token)
        task.request.request_id_token = None
