"""What a panel module is: capability Protocols, the data they exchange, and the settings a
product must give each module. Network I/O only; no ORM (the operations service turns
models into these dataclasses and back).

Every lifecycle call must be safe to repeat, because a call whose answer was lost is
retried: `create` looks for an account or server carrying our service reference first and
adopts it instead of making a second; suspend, unsuspend and terminate accept a target that is
already in the wanted state (or, for terminate, already gone).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class SettingSpec:
    """A product setting a module needs (stored in Product.module_settings)."""

    name: str
    label: str
    required: bool = True
    kind: type = str  # str or int
    help: str = ""


@dataclass(frozen=True)
class ServerCredentials:
    """How to reach one panel endpoint (decrypted only in memory)."""

    base_url: str
    secrets: dict[str, str]  # e.g. {"api_key": ...} or {"username": ..., "password": ...}
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AccountSpec:
    """What to create: built from the service, its customer, product settings and options."""

    reference: str  # our stable service reference, e.g. "svc-42": the adoption key
    service_id: int
    customer_id: int
    email: str
    name: str
    settings: dict[str, Any]  # product module settings, options applied
    hostname: str = ""
    domain: str = ""
    username: str = ""


@dataclass(frozen=True)
class ProvisionResult:
    external_id: str
    username: str = ""
    secrets: dict[str, str] = field(default_factory=dict)  # shown to the customer, encrypted
    panel_url: str = ""
    details: dict[str, Any] = field(default_factory=dict)  # e.g. a support key, public IP


@runtime_checkable
class Lifecycle(Protocol):
    def test_connection(self) -> None: ...
    def create(self, spec: AccountSpec) -> ProvisionResult: ...
    def suspend(self, external_id: str, *, reason: str) -> None: ...
    def unsuspend(self, external_id: str) -> None: ...
    def terminate(self, external_id: str) -> None: ...


@runtime_checkable
class PackageChange(Protocol):
    def change_package(self, external_id: str, *, settings: dict[str, Any]) -> None: ...


@runtime_checkable
class LoginLink(Protocol):
    def login_url(self, external_id: str, *, spec: AccountSpec) -> str: ...


@runtime_checkable
class Power(Protocol):
    def power(self, external_id: str, *, action: str) -> None: ...


@runtime_checkable
class UsageStats(Protocol):
    def usage(self, external_id: str) -> dict[str, Any]: ...


@runtime_checkable
class Backups(Protocol):
    def backups_list(self, external_id: str) -> list[dict[str, Any]]: ...
    def backup_create(self, external_id: str, *, name: str) -> dict[str, Any]: ...
    def backup_delete(self, external_id: str, *, backup_id: str) -> None: ...
    def backup_restore(self, external_id: str, *, backup_id: str) -> None: ...
