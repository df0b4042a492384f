"""Panel servers: placement of new services, health checks and capacity alerts, and the
re-encryption of stored secrets."""

from __future__ import annotations

import logging
from typing import Any, NoReturn

from django.conf import settings
from django.core.cache import cache
from django.core.mail import mail_admins
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from billing_portal.common.crypto import encrypted_fields
from billing_portal.common.models import WebhookEndpoint
from billing_portal.common.outbox import BROKER_ERRORS
from catalogue.models import Product
from provisioning.errors import NoServerCapacity, PanelError
from provisioning.locks import secret_row_lock, server_lock, service_lock
from provisioning.models import Server, Service
from provisioning.panels.base import Lifecycle, LoginLink, ServerCredentials
from provisioning.panels.registry import MODULES, panel_for
from provisioning.selectors import (
    product_has_room,
    product_is_placed,
    product_server_group,
    servers_with_room,
)

logger = logging.getLogger(__name__)

CAPACITY_ALERT_SHARE = 0.8


def server_panel(server: Server) -> Lifecycle:
    """The module adapter for `server`, with its credentials decrypted in memory only."""
    credentials = ServerCredentials(
        base_url=server.base_url, secrets=dict(server.credentials), options=dict(server.options)
    )
    return panel_for(server.module, credentials)


def server_place(*, product: Product) -> Server | None:
    """Pick a server for a new service of `product` and take one account slot on it (call in
    the ordering transaction; the slot returns if it rolls back). None for products without a
    panel module; NoServerCapacity when no active, online server of its group has room: a
    free account slot and the product's declared memory, disk and CPU on top of what the
    services it holds declare (`servers_with_room`)."""
    if not product_is_placed(product=product):
        return None
    room = servers_with_room(product=product)
    for candidate in room:
        # Lock, then re-check in a new statement (it sees what committed while it waited):
        # a concurrent order may have taken the last slot, or the last memory, disk or CPU
        # (every placement on a server takes its lock, so they queue here).
        server = server_lock(candidate.pk)
        if room.filter(pk=server.pk).exists():
            server.current_accounts += 1
            server.save(update_fields=["current_accounts"])
            return server
    return _refuse_no_capacity(product)


def server_room_check(*, product: Product) -> None:
    """Refuse (NoServerCapacity, staff alerted) an order no server could take: called when
    the order is reviewed and placed, before anything is paid."""
    if not product_has_room(product=product):
        _refuse_no_capacity(product)


def _refuse_no_capacity(product: Product) -> NoReturn:
    # Not on commit: the order's transaction rolls back, and staff must hear of it anyway;
    # at most one alert per product an hour, however many customers try.
    from provisioning.tasks import staff_alert_task

    if cache.add(f"provisioning:no-capacity-alert:{product.pk}", True, timeout=3600):
        try:  # once, at once: a broker that is down must not turn the refusal into a 500
            staff_alert_task.apply_async(
                (
                    f"No server capacity for {product.name}",
                    f"An order for {product.name} was refused: no active, online server in "
                    f"group {product_server_group(product=product)} has room. Add capacity or "
                    "a server.",
                ),
                retry=False,
            )
        except BROKER_ERRORS:
            logger.exception("staff alert for %s not queued", product)
    raise NoServerCapacity(
        f"Sorry, {product.name} cannot be ordered right now: all our servers for it are full. "
        "Our team has been told; please try again later."
    )


def server_release(*, server_id: int | None) -> None:
    """Give back the account slot of a service that ended (call inside its transaction)."""
    if server_id is None:
        return
    Server.objects.filter(pk=server_id, current_accounts__gt=0).update(
        current_accounts=F("current_accounts") - 1
    )


def server_place_manually(*, service_id: int, server_id: int) -> Service:
    """Staff put a not-yet-created service on a chosen server."""
    with transaction.atomic():
        service = service_lock(service_id)
        if service.external_id:
            raise NoServerCapacity("This service already exists on its panel.")
        server = server_lock(server_id)
        if server.current_accounts >= server.capacity_accounts:
            raise NoServerCapacity(f"{server} is full.")
        server_release(server_id=service.server_id)
        server.current_accounts += 1
        server.save(update_fields=["current_accounts"])
        service.server = server
        service.save(update_fields=["server"])
    return service


# --- Health -------------------------------------------------------------------------------


def server_check(*, server_id: int) -> Server:
    """Test the connection; record online state; alert staff when capacity passes 80%."""
    server = Server.objects.get(pk=server_id)
    error = ""
    try:
        server_panel(server).test_connection()
    except PanelError as exc:
        error = exc.message
    with transaction.atomic():
        server = server_lock(server_id)
        server.is_online, server.last_check_error = not error, error
        server.last_checked_at = timezone.now()
        crowded = server.utilisation >= CAPACITY_ALERT_SHARE
        if crowded and server.capacity_alerted_at is None:
            server.capacity_alerted_at = server.last_checked_at
            message = (
                f"{server} uses {server.current_accounts} of {server.capacity_accounts} accounts."
            )
            transaction.on_commit(lambda: mail_admins(f"{server} is over 80% full", message))
        elif not crowded:
            server.capacity_alerted_at = None
        server.save()
    if error:
        logger.warning("server %s is offline: %s", server, error)
    return server


# --- Key rotation -------------------------------------------------------------------------


def secrets_rotate() -> int:
    """Re-encrypt every stored secret with the first FIELD_ENCRYPTION_KEYS key; returns the
    number of rows rewritten. Safe to run again (and while the portal runs)."""
    count = 0
    for model in (Server, Service, WebhookEndpoint):
        fields = encrypted_fields(model)
        for pk in model.objects.values_list("pk", flat=True).iterator():
            with transaction.atomic():
                row = secret_row_lock(model, pk)
                # Saving writes each value back through the field, encrypted with key #1.
                model.objects.filter(pk=pk).update(**{f: getattr(row, f) for f in fields})
            count += 1
    logger.info(
        "re-encrypted %s rows with the newest of %s keys",
        count,
        len(settings.FIELD_ENCRYPTION_KEYS),
    )
    return count


def service_login_url(*, service: Service) -> str:
    """A login link for the customer's panel account: single sign-on where the module
    offers it, else the panel URL recorded at creation ("" when there is none)."""
    from provisioning.services.operations import account_spec

    if service.status != Service.Status.ACTIVE or service.server is None:
        return ""
    panel = server_panel(service.server)
    if isinstance(panel, LoginLink):
        return panel.login_url(service.external_id, spec=account_spec(service))
    return service.panel_url


def server_lookups(*, server: Server) -> dict[str, Any]:
    """Run the staff look-ups the server's module offers: title -> rows."""
    info = MODULES.get(server.module)
    if info is None or not info.lookups:
        return {}
    panel = server_panel(server)
    return {title: getattr(panel, method)() for title, method in info.lookups.items()}
