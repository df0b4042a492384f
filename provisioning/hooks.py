"""The `service_ended` hook: how other apps react when a service is cancelled or terminated.

Handlers run after the ending transaction commits (they may call external systems, e.g.
payments cancels the PayPal subscription paying for the service) and receive the service
id. A failing handler is logged and does not undo the ending.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction

logger = logging.getLogger(__name__)

ServiceEndedHandler = Callable[[int], None]

_service_ended_handlers: list[ServiceEndedHandler] = []


def on_service_ended(handler: ServiceEndedHandler) -> ServiceEndedHandler:
    if handler not in _service_ended_handlers:
        _service_ended_handlers.append(handler)
    return handler


def service_ended_dispatch_on_commit(service_id: int) -> None:
    for handler in list(_service_ended_handlers):
        transaction.on_commit(lambda h=handler: h(service_id), robust=True)
