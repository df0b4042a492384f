"""Self-service of virtfusion services: the actions on the service's page and what the page reads
live from the panel (see provisioning.services.actions)."""

from __future__ import annotations

from typing import Any

from provisioning.models import Service
from provisioning.services.actions import Action

ACTIONS: tuple[Action, ...] = ()


def page_context(service: Service) -> dict[str, Any]:
    """What the service page's virtfusion section shows (live reads through `live_read`)."""
    return {}
