"""Staff writes of panel servers outside the admin (the staff API): add, change, remove.

The caller checks the input with the admin's server form first (module, URL, credentials
as an object of strings, the model's rules), so both ways in refuse the same things; these
functions check the model's rules again under the row lock (a concurrent change), write,
and audit the change with the names of what changed, never a credential's value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import User
from billing_portal.common.audit import audit_record
from billing_portal.common.request import RequestMeta
from provisioning.audit import ServerAudit
from provisioning.errors import ProvisioningError, ServerInUse
from provisioning.locks import server_lock
from provisioning.models import Server

# What staff set on a server; the account count and health are the portal's own.
EDITABLE_FIELDS = (
    "group",
    "module",
    "name",
    "base_url",
    "options",
    "capacity_accounts",
    "capacity_memory_mb",
    "capacity_disk_gb",
    "capacity_cpu",
    "location",
    "tags",
    "is_active",
    "is_online",
)


def _editable(values: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(EDITABLE_FIELDS)
    if unknown:  # a programming error of the caller, not the client's input
        raise ValueError(f"Not editable on a server: {', '.join(sorted(unknown))}")
    return dict(values)


def _save(server: Server) -> None:
    # The model's rules (unique name, URL, capacities, the account count within capacity).
    server.full_clean()
    try:
        with transaction.atomic():  # a savepoint: a name taken meanwhile is a refusal
            server.save()
    except IntegrityError as error:
        raise ProvisioningError(
            f"A server named {server.name} exists already.", code="server_name_taken"
        ) from error


@transaction.atomic
def server_create(
    *,
    values: Mapping[str, Any],
    credentials: Mapping[str, str],
    actor: User,
    meta: RequestMeta | None = None,
) -> Server:
    """Add a server with its (encrypted) credentials."""
    if not credentials:
        raise ProvisioningError("Give the panel credentials.", code="credentials_required")
    server = Server(**_editable(values))
    server.credentials = dict(credentials)
    _save(server)
    audit_record(
        action=ServerAudit.SERVER_CREATED,
        actor=actor,
        target=server,
        meta=meta,
        details={
            "name": server.name,
            "module": server.module,
            "base_url": server.base_url,
            "credential_keys": sorted(credentials),
        },
    )
    return server


@transaction.atomic
def server_update(
    *,
    server_id: int,
    values: Mapping[str, Any],
    credentials: Mapping[str, str] | None = None,
    actor: User,
    meta: RequestMeta | None = None,
) -> Server:
    """Change what staff set on a server; `credentials` replace the stored ones when given
    (None or empty keeps them)."""
    server = server_lock(server_id)
    changed = [name for name, value in _editable(values).items() if getattr(server, name) != value]
    for name in changed:
        setattr(server, name, values[name])
    if credentials:
        server.credentials = dict(credentials)
        changed.append("credentials")
    if not changed:
        return server
    _save(server)
    audit_record(
        action=ServerAudit.SERVER_CHANGED,
        actor=actor,
        target=server,
        meta=meta,
        details={"changed": changed},
    )
    return server


@transaction.atomic
def server_delete(*, server_id: int, actor: User, meta: RequestMeta | None = None) -> None:
    """Remove a server no service was ever placed on."""
    server = server_lock(server_id)
    held = server.services.count()
    if held:
        raise ServerInUse(
            f"{server} holds {held} services (ended ones count: their history points to it). "
            "Make it inactive to stop placing new services on it."
        )
    audit_record(
        action=ServerAudit.SERVER_DELETED,
        actor=actor,
        target=server,
        meta=meta,
        details={"name": server.name, "module": server.module, "base_url": server.base_url},
    )
    server.delete()
