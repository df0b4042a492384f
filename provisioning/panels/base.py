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
class VpsControls(Protocol):
    """A VPS's self-service calls (VirtFusion, and the sandbox standing in for it). Reads
    return plain dicts in the portal's units (provisioning.panels.virtfusion documents them);
    actions return what the customer is shown, or None."""

    def vps_server(self, external_id: str) -> dict[str, Any]: ...
    def vps_traffic(self, external_id: str) -> dict[str, Any]: ...
    def vps_power(self, external_id: str, *, action: str) -> None: ...
    def vps_os_templates(self, external_id: str) -> list[dict[str, Any]]: ...
    def vps_reinstall(
        self, external_id: str, *, os_template_id: int, hostname: str = ""
    ) -> dict[str, Any]: ...
    def vps_console(self, external_id: str) -> dict[str, Any]: ...
    def vps_isos(self, external_id: str) -> list[dict[str, Any]]: ...
    def vps_iso_mount(self, external_id: str, *, iso_id: int) -> None: ...
    def vps_iso_unmount(self, external_id: str) -> None: ...
    def vps_password_reset(self, external_id: str) -> dict[str, Any]: ...


@runtime_checkable
class Backups(Protocol):
    def backups_list(self, external_id: str) -> list[dict[str, Any]]: ...
    def backup_create(self, external_id: str, *, name: str) -> dict[str, Any]: ...
    def backup_delete(self, external_id: str, *, backup_id: str) -> None: ...
    def backup_restore(self, external_id: str, *, backup_id: str) -> None: ...


@runtime_checkable
class SiteControls(Protocol):
    """A managed site's container and reverse proxy (the WordPress site backend): status,
    power, reset to the initial snapshot, custom domains and the proxy switch."""

    def site_status(self, external_id: str) -> dict[str, Any]: ...
    def site_power(self, external_id: str, *, action: str) -> None: ...
    def site_reset(self, external_id: str) -> None: ...
    def site_domains(self, external_id: str) -> list[str]: ...
    def site_domain_add(self, external_id: str, *, domain: str) -> None: ...
    def site_domain_delete(self, external_id: str, *, domain: str) -> None: ...
    def site_proxy_set(self, external_id: str, *, enabled: bool) -> None: ...


# --- self-service capabilities of game servers, hosting accounts and support keys ---------


@runtime_checkable
class GameServerControls(Protocol):
    """A game server's state, usage against its build limits, and power signals.

    `game_status` gives {"state", "suspended", "limits": {memory_mb, disk_mb, cpu_percent},
    "usage": {memory_mb, disk_mb, cpu_percent, uptime_seconds} or None, "usage_notice",
    "power_allowed", "power_notice"}; `game_power` sends "start", "stop", "restart" or
    "kill"; `game_power_enabled` says, without a call, whether the panel is set up for it."""

    def game_status(self, external_id: str) -> dict[str, Any]: ...
    def game_power(self, external_id: str, *, signal: str) -> None: ...
    def game_power_enabled(self) -> bool: ...


@runtime_checkable
class HostingStats(Protocol):
    """A hosting account's statistics: {"domains", "databases", "email_accounts",
    "ssl_certificates", "storage_mb", "bandwidth_mb"}, each used value with its limit under
    "<name>_limit" (None: unlimited or not reported)."""

    def hosting_stats(self, external_id: str) -> dict[str, Any]: ...


@runtime_checkable
class HostingDatabases(Protocol):
    """A hosting account's domains and new databases (DirectAdmin). `database_create` gives
    {"database", "user", "password"} with the names as the panel made them."""

    def hosting_domains(self, external_id: str) -> list[dict[str, Any]]: ...
    def database_create(
        self, external_id: str, *, name: str, user: str, password: str
    ) -> dict[str, Any]: ...


@runtime_checkable
class SupportKeys(Protocol):
    """A support subscription's details ({"status", "tier", "email"}) and a new key."""

    def support_info(self, external_id: str) -> dict[str, Any]: ...
    def support_key_regenerate(self, external_id: str) -> str: ...
