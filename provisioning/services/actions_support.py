"""Self-service of support subscriptions: the page shows the support key (with a copy
button), the subscription's status, plan tier and the email it belongs to; the customer can
regenerate the key. The new key replaces the old one in Service.secrets (encrypted at rest,
as provisioning stores every secret it shows) as soon as the backend gives it, with an audit
event, and is shown once in the action's result too (see provisioning.services.actions)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from billing_portal.common.audit import audit_record
from provisioning.audit import ProvisioningAudit
from provisioning.errors import PanelError
from provisioning.locks import service_lock
from provisioning.models import Service
from provisioning.panels.base import SupportKeys
from provisioning.services.actions import Action, Panel, Params, live_read

INFO = "support_info"
KEY = "support_key"
SHOWN = "New support key"  # the label the status box shows the secret under


def _keys(panel: Panel) -> SupportKeys:
    if not isinstance(panel, SupportKeys):
        raise PanelError("This service's backend has no support keys.", retryable=False)
    return panel


def _info(panel: Panel, service: Service) -> dict[str, Any]:
    return _keys(panel).support_info(service.external_id)


@transaction.atomic
def service_support_key_store(*, service_id: int, key: str) -> Service:
    """Keep the backend's new support key as the service's secret (the old one is gone on
    the backend already, so it is stored at once, whatever happens to the operation)."""
    service = service_lock(service_id, related=("customer",))
    service.secrets = {**service.secrets, KEY: key}
    service.save(update_fields=["secrets"])
    audit_record(
        action=ProvisioningAudit.SERVICE_SECRET_CHANGED,
        customer=service.customer,
        target=service,
        details={"secret": KEY},  # which one, never its value
    )
    return service


def _regenerate(panel: Panel, service: Service, params: Params) -> dict[str, Any]:
    key = _keys(panel).support_key_regenerate(service.external_id)
    service_support_key_store(service_id=service.pk, key=key)
    return {SHOWN: key}


ACTIONS: tuple[Action, ...] = (
    # Repeatable: sent again after a lost answer it makes one more key, which is stored.
    Action(
        "regenerate_key",
        "Regenerate support key",
        _regenerate,
        confirm="REGENERATE",
        secret_keys=(SHOWN,),
        done_message="Your new support key is below; the old one no longer works.",
        changes=(INFO,),
    ),
)


def page_context(service: Service) -> dict[str, Any]:
    """The support section: the key as stored, and the backend's status, tier and email
    (the portal's own values where the backend gives none or is down)."""
    read = live_read(service, INFO, _info)
    info = read.data or {}
    return {
        "support_key": service.secrets.get(KEY, ""),
        "support_status": info.get("status") or service.get_status_display().lower(),
        "support_tier": info.get("tier")
        or service.product.module_settings.get("tier")
        or service.product.module_settings.get("plan", ""),
        "support_email": info.get("email") or service.customer.user.email,
        "support_notice": read.notice,
    }
