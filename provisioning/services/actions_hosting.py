"""Self-service of web hosting accounts (DirectAdmin, NextPanel): the actions on the service's
page and what the page reads live from the panel (see provisioning.services.actions)."""

from __future__ import annotations

from typing import Any

from provisioning.models import Service
from provisioning.services.actions import Action

DIRECTADMIN_ACTIONS: tuple[Action, ...] = ()
NEXTPANEL_ACTIONS: tuple[Action, ...] = ()


def page_context(service: Service) -> dict[str, Any]:
    """What the service page's hosting section shows (live reads through `live_read`)."""
    return {}
