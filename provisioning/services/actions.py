"""Self-service: the actions a customer runs on a service from its page (power, backups,
domains, reinstall...) and the live reads the page shows (status, statistics, lists).

Every action is a provisioning operation of kind `action` (payload `{"action", "params"}`):
recorded in the transaction that accepts the click (keyed by the click, so a double submit
is one operation), run by the operation kernel on the `panels` queue after commit, in order
with the service's other operations. An action declares whether it is safe to send again
after a lost answer (`repeatable`: power and reads yes); one that is not (a reinstall, a
rollback, a reset) is never resent by itself: it waits as "needs checking" for staff.

Each module's actions and page data live in `actions_<module>.py` (`ACTIONS`, `page_context`),
listed in `MODULE_ACTIONS` below; a service on the sandbox takes those of the module its
product stands in for, and the sandbox panel implements the same calls.

Live reads come from the panel through a short cache (`live_read`); a panel that is down
gives the page a notice instead of data, never an error page.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Customer, User
from billing_portal.common.audit import audit_record
from billing_portal.common.errors import ExternalServiceError
from billing_portal.common.request import RequestMeta
from provisioning.audit import ProvisioningAudit
from provisioning.errors import PanelError, ProvisioningError
from provisioning.locks import provisioning_operation_lock, service_lock
from provisioning.models import ProvisioningOperation, Service
from provisioning.selectors import auto_backups_for_service, service_recent_actions

logger = logging.getLogger(__name__)

Op = ProvisioningOperation
T = TypeVar("T")

# A panel adapter: each action calls its module's own methods (checked by the action).
Panel = Any
Params = dict[str, Any]


class ActionRefused(ProvisioningError):
    """The portal refuses an action before any call: the message is for the customer."""

    code = "action_refused"


@dataclass(frozen=True)
class Action:
    """One button (or form) on a service's page.

    - `call(panel, service, params)`: the panel call, outside any transaction; returns what
      to keep on the operation (shown to the customer; keys in `secret_keys` are encrypted
      and shown once) or None; raises PanelError;
    - `clean(service, params)`: checks and normalises the submitted params before anything
      is recorded (quotas, ids the panel offered); raises ActionRefused with the message;
    - `confirm`: a word the customer must type (destructive actions);
    - `repeatable`: safe to send again when the answer was lost.
    """

    name: str
    label: str
    call: Callable[[Panel, Service, Params], dict[str, Any] | None]
    repeatable: bool = True
    confirm: str = ""
    clean: Callable[[Service, Params], Params] | None = None
    secret_keys: tuple[str, ...] = ()
    done_message: str = "Done."
    # The live reads this action changes (forgotten from the cache when it succeeds).
    changes: tuple[str, ...] = field(default=())


def _module_actions() -> dict[str, dict[str, Action]]:
    from provisioning.services import (
        actions_hosting,
        actions_pterodactyl,
        actions_support,
        actions_virtfusion,
        actions_wordpress,
    )

    modules = {
        "wordpress": actions_wordpress.ACTIONS,
        "virtfusion": actions_virtfusion.ACTIONS,
        "pterodactyl": actions_pterodactyl.ACTIONS,
        "directadmin": actions_hosting.DIRECTADMIN_ACTIONS,
        "nextpanel": actions_hosting.NEXTPANEL_ACTIONS,
        "support": actions_support.ACTIONS,
    }
    return {module: {a.name: a for a in actions} for module, actions in modules.items()}


def _module_pages() -> dict[str, Callable[[Service], dict[str, Any]]]:
    from provisioning.services import (
        actions_hosting,
        actions_pterodactyl,
        actions_support,
        actions_virtfusion,
        actions_wordpress,
    )

    return {
        "wordpress": actions_wordpress.page_context,
        "virtfusion": actions_virtfusion.page_context,
        "pterodactyl": actions_pterodactyl.page_context,
        "directadmin": actions_hosting.page_context,
        "nextpanel": actions_hosting.page_context,
        "support": actions_support.page_context,
    }


def service_page_context(service: Service) -> dict[str, Any]:
    """The module section of the service's page: its template, its actions and what it
    reads live (only for an active service; the others show their status alone)."""
    module = service_module(service)
    page = _module_pages().get(module)
    if page is None or service.status != Service.Status.ACTIVE:
        return {"self_service_template": ""}
    return {
        "self_service_template": f"provisioning/self_service/{module}.html",
        "actions": actions_for(service),
        # Scheduled backups, where the product has them (_auto_backups.html).
        "auto_backups": auto_backups_for_service(service=service),
        **page(service),
    }


def service_module(service: Service) -> str:
    """The module whose controls the service's page shows: its server's, or on the sandbox
    the one its product stands in for."""
    module = service.server.module if service.server else ""
    if module == "sandbox":
        return str(service.product.module_settings.get("stands_in_for", ""))
    return module


def actions_for(service: Service) -> dict[str, Action]:
    return _module_actions().get(service_module(service), {})


def _refuse_unless_actionable(service: Service) -> None:
    if service.status == Service.Status.SUSPENDED:
        raise ActionRefused("This service is suspended; pay its open invoice to use it again.")
    if service.status != Service.Status.ACTIVE:
        raise ActionRefused("Only an active service can be managed.")
    if not service.external_id or service.server is None:
        raise ActionRefused("This service is not set up on its panel yet.")


CLICK_KEY = re.compile(r"[0-9a-f]{32}")


def service_action_request(
    *,
    customer: Customer,
    service_id: int,
    action: str,
    params: Params,
    click_key: str,
    confirmation: str = "",
    actor: User | None = None,
    meta: RequestMeta | None = None,
) -> Op:
    """Accept a customer's action on their own active service and queue it (after commit).
    The same click (`click_key`, a page's one-time token) gives the same operation."""
    if not CLICK_KEY.fullmatch(click_key):
        raise ActionRefused("This form has expired; reload the page and try again.")
    rows = Service.objects.select_related("server", "product", "customer")
    service = rows.get(pk=service_id, customer=customer)  # another's: as if none existed
    key = f"service:{service.pk}:action:{click_key}"
    existing = Op.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    spec = actions_for(service).get(action)
    if spec is None:
        raise ActionRefused("This service has no such action.")
    _refuse_unless_actionable(service)
    if spec.confirm and confirmation.strip() != spec.confirm:
        raise ActionRefused(f"Type {spec.confirm} to confirm.")
    # Checked before any lock: a check may ask the panel (the templates it offers).
    cleaned = spec.clean(service, dict(params)) if spec.clean else dict(params)
    with transaction.atomic():
        service = service_lock(service.pk, related=("server", "product", "customer"))
        _refuse_unless_actionable(service)  # again: it may have changed meanwhile
        return _record(service, spec, cleaned, key, actor, meta)


def _record(
    service: Service,
    spec: Action,
    params: Params,
    key: str,
    actor: User | None,
    meta: RequestMeta | None,
) -> Op:
    from billing_portal.common import operations as kernel
    from provisioning.services.operations import PANEL_CALL  # it imports this module

    try:
        with transaction.atomic():  # a savepoint: a racing double submit loses quietly
            operation = Op.objects.create(
                service=service,
                kind=Op.Kind.ACTION,
                idempotency_key=key,
                payload={"action": spec.name, "params": params},
                next_attempt_at=timezone.now(),
                requested_by=actor,
            )
    except IntegrityError:
        return Op.objects.get(idempotency_key=key)
    audit_record(
        action=ProvisioningAudit.SERVICE_ACTION_REQUESTED,
        actor=actor,
        customer=service.customer,
        target=service,
        meta=meta,
        details={"action": spec.name, "params": params, "operation": operation.pk},
    )
    kernel.operation_queue(PANEL_CALL, operation.pk)
    return operation


def action_of(operation: Op) -> Action | None:
    if operation.kind != Op.Kind.ACTION:
        return None
    return actions_for(operation.service).get(str(operation.payload.get("action", "")))


def action_label(operation: Op) -> str:
    """What the customer reads for an operation: its action's label ("Reset to the initial
    snapshot", not `reset`), the raw name of an action its module no longer offers, or
    the kind of a lifecycle call."""
    spec = action_of(operation)
    if spec is not None:
        return spec.label
    if operation.kind == Op.Kind.ACTION:
        return str(operation.payload.get("action", "")) or operation.get_kind_display()
    return operation.get_kind_display()


@dataclass(frozen=True)
class RecentAction:
    """One line of the service page's "Recent actions"."""

    created_at: datetime
    label: str
    status: str  # the status's display name


def service_recent_actions_shown(*, service: Service) -> list[RecentAction]:
    """The service's latest customer actions as its page lists them, with their labels."""
    return [
        RecentAction(op.created_at, action_label(op), op.get_status_display())
        for op in service_recent_actions(service=service)
    ]


def action_repeatable(operation: Op) -> bool:
    """Whether the kernel may send this operation again after a lost answer."""
    if operation.kind != Op.Kind.ACTION:
        return True  # lifecycle calls are safe to repeat (provisioning.panels.base)
    spec = action_of(operation)
    return spec.repeatable if spec else False


def action_call(operation: Op, panel: Panel, service: Service) -> dict[str, Any] | None:
    """The panel call of an action operation (run by the operations module's `_call`)."""
    spec = action_of(operation)
    if spec is None:
        raise PanelError("This action no longer exists for the service.", retryable=False)
    return spec.call(panel, service, dict(operation.payload.get("params", {})))


def action_succeeded(operation: Op, result: dict[str, Any] | None) -> None:
    """Keep what the action returned (secrets apart) and forget the reads it changed; in
    the kernel's recording transaction."""
    spec = action_of(operation)
    result = dict(result or {})
    secret_keys = spec.secret_keys if spec else ()
    operation.secret_result = {k: result.pop(k) for k in secret_keys if k in result}
    operation.response_summary = {"ok": True, "result": result}
    live_reads_forget(operation.service_id)
    audit_record(
        action=ProvisioningAudit.SERVICE_ACTION_SUCCEEDED,
        customer=operation.service.customer,
        target=operation.service,
        details={"action": operation.payload.get("action"), "operation": operation.pk},
    )


def action_failed(operation: Op, error: ExternalServiceError) -> None:
    audit_record(
        action=ProvisioningAudit.SERVICE_ACTION_FAILED,
        customer=operation.service.customer,
        target=operation.service,
        details={
            "action": operation.payload.get("action"),
            "operation": operation.pk,
            "status": operation.status,
            "error": error.message,
        },
    )


@transaction.atomic
def action_secret_take(*, customer: Customer, operation_id: int) -> dict[str, Any]:
    """The action's secret result (a new root password), for its owner, once: emptied as
    it is read."""
    operation = provisioning_operation_lock(operation_id)
    if operation.service.customer_id != customer.pk:
        raise Op.DoesNotExist
    secret = dict(operation.secret_result)
    if secret:
        operation.secret_result = {}
        operation.save(update_fields=["secret_result", "updated_at"])
    return secret


# --- what the customer sees of a panel's errors -------------------------------------------

_PREFIXES = (
    re.compile(r"^\s*API\s+[A-Z]+\s+\S+\s+failed:\s*(HTTP\s*\d{3}\s*)?[:\-]?\s*", re.I),
    re.compile(r"^\s*[\w .-]{1,40}\s+answered\s+\d{3}\s*:?\s*", re.I),
    re.compile(r"^\s*HTTP\s*\d{3}\s*:?\s*", re.I),
)
_TAGS = re.compile(r"<[^>]*>")
GENERIC_ERROR = "The panel could not do this right now. Please try again later."


def customer_error_message(text: str) -> str:
    """A panel's error as a customer may read it: the JSON `error`/`message`/`detail` field
    when there is one, HTML stripped, the portal's and the panel API's prefixes removed, a
    generic sentence when nothing readable is left. The full text stays for staff."""
    text = _json_message(text) or text
    text = html.unescape(_TAGS.sub(" ", text))
    for _ in range(3):  # prefixes nest ("API POST /x failed: HTTP 500: Panel answered 500:")
        for prefix in _PREFIXES:
            text = prefix.sub("", text)
    text = " ".join(text.split())
    text = _json_message(text) or text
    if len(text) < 3 or not re.search(r"[A-Za-z]{3}", text):
        return GENERIC_ERROR
    return text[:300]


def _json_message(text: str) -> str:
    start = text.find("{")
    if start < 0:
        return ""
    try:
        data = json.loads(text[start:])
    except ValueError:
        return ""
    for key in ("error", "message", "detail", "errors"):
        value = data.get(key) if isinstance(data, dict) else None
        if isinstance(value, dict):
            value = value.get("message") or value.get("detail") or ""
        if isinstance(value, list) and value:
            first = value[0]
            value = (
                first.get("detail") or first.get("message") if isinstance(first, dict) else first
            )
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


# --- live reads ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveRead(Generic[T]):
    """What a panel said (`data`), or why the page shows nothing (`notice`)."""

    data: T | None
    notice: str = ""

    @property
    def ok(self) -> bool:
        return not self.notice


def _version_key(service_id: int) -> str:
    return f"selfservice:{service_id}:version"


def live_reads_forget(service_id: int) -> None:
    """Drop every cached read of the service (after an action changed it)."""
    try:
        cache.incr(_version_key(service_id))
    except ValueError:
        cache.set(_version_key(service_id), 1, None)


def live_read(
    service: Service, name: str, fetch: Callable[[Panel, Service], T], *, ttl: int | None = None
) -> LiveRead[T]:
    """`fetch(panel, service)`, cached for `ttl` seconds (LIVE_READ_CACHE_SECONDS); when the
    panel fails, a notice for the page instead (logged for staff), never an exception."""
    from provisioning.services.servers import server_panel

    if service.server is None or not service.external_id:
        return LiveRead(None, "This service is not set up on its panel yet.")
    version = cache.get(_version_key(service.pk), 0)
    key = f"selfservice:{service.pk}:{version}:{name}"
    cached = cache.get(key)
    if cached is not None:
        return LiveRead(cached)
    try:
        data = fetch(server_panel(service.server), service)
    except ExternalServiceError as error:
        logger.warning("Live read %s of service %s failed: %s", name, service.pk, error)
        return LiveRead(None, _unavailable(error))
    timeout = settings.LIVE_READ_CACHE_SECONDS if ttl is None else ttl
    cache.set(key, data, timeout)
    return LiveRead(data)


def _unavailable(error: ExternalServiceError) -> str:
    if error.retryable:
        return (
            "The panel is not answering right now, so live details are not shown. "
            "Try again in a few minutes."
        )
    return f"The panel did not give these details: {customer_error_message(error.message)}"
