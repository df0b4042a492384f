"""A service's account statistics read live from its panel, for staff (the staff API): the
hosting figures (domains, databases, email, storage...) where the module gives them, else
its usage figures. Not cached, unlike the client area's live reads: staff asking want the
panel's figure of now, and a panel that fails says so (an error) instead of a notice."""

from __future__ import annotations

from typing import Any

from provisioning.errors import ProvisioningError
from provisioning.models import Service
from provisioning.panels.base import HostingStats, UsageStats
from provisioning.services.servers import server_panel


def service_stats(*, service: Service) -> dict[str, Any]:
    """The panel's statistics of the service's account; ProvisioningError when it is not on
    a panel (yet) or its module gives none; PanelError when the panel fails."""
    if service.server is None or not service.external_id:
        raise ProvisioningError(
            "This service is not set up on its panel, so it has no statistics.",
            code="not_on_panel",
        )
    panel = server_panel(service.server)
    if isinstance(panel, HostingStats):
        return panel.hosting_stats(service.external_id)
    if isinstance(panel, UsageStats):
        return panel.usage(service.external_id)
    raise ProvisioningError(
        f"The {service.server.module} panel gives no account statistics.", code="no_stats"
    )
