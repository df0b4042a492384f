"""VirtFusion adapter (API v1, Bearer token): network I/O only.

Customers are linked by `extRelationId` = our customer id. `VirtFusionClient` holds the calls
the dual wallet needs (find-or-create of the user, self-service token credit, the token
balance); `VirtFusionPanel` is the provisioning module (servers: create and build, suspend,
unsuspend, delete with a delay, package change, power, login token) and the customer's
self-service controls (`VpsControls`).

Self-service contract (API v1, base `/api/v1`, Bearer token, JSON). Sources: VirtFusion's
OpenAPI 3.0.1 description as published with the EZSCALE virtfusion-php client
(API_REFERENCE.md, tests/Fixtures) and the EZSCALE WHMCS module (lib/Module.php, its notes
on VirtFusion v7.0). PROVISIONAL marks what neither confirms.

- server and live state: GET /servers/{id}?remoteState=true -> `data.state`, `data.name`,
  `data.hostname`, `data.settings.resources.{memory (MB), storage (GB), traffic (GB, 0 =
  unmetered), cpuCores}`, `data.media.{isoMounted, isoName}` (all in the OpenAPI text);
  `data.remoteState.{state, cpu, memory.{available, unused}, agent.fsinfo[]{used-bytes,
  total-bytes}}` (the WHMCS module's notes). PROVISIONAL: the units, read as cpu = percent,
  memory = libvirt's KiB; fsinfo is there only when the guest agent runs.
- traffic: GET /servers/{id}/traffic -> `data.monthly[0].{start, end, rx, tx, total}` bytes
  of the current period and its `limit` in GB (0 = unmetered).
- power: POST /servers/{id}/power/{boot | shutdown (ACPI, graceful) | restart | poweroff}
  -> 200 `{data:{queueId}}`, carried out by the hypervisor's queue.
- OS templates: GET /servers/{id}/templates -> `data[]{name, templates[]{id, name, version,
  variant}}`, templates grouped by distribution.
- reinstall: POST /servers/{id}/build `{operatingSystemId, email: true, hostname?}` -> 200
  server data. The answer carries no password: `email: true` has VirtFusion email the new
  credentials to the server's owner.
- console: POST /servers/{id}/vnc `{"vnc": true}` -> `data.vnc.{ip, hostname, port,
  password, wss.{token, url}, enabled}`. PROVISIONAL body: the OpenAPI text names the field
  `action` (enable/disable); the WHMCS module, tested on v7.0, found the panel reads `vnc`.
- ISO list: GET /media/iso?results=200 -> `data[]{id, name, enabled}`. PROVISIONAL: only
  GET /media/iso/{isoId} is published; the list is read as the Laravel-paginated collection
  at the same path (enabled ones only).
- ISO mount: POST /servers/{id}/media/iso/{isoId}; unmount: DELETE /servers/{id}/media/iso;
  200 or 204. PROVISIONAL: neither is in the published description.
- root password: POST /servers/{id}/resetPassword `{"user": "root", "sendMail": false}` ->
  200 `{data:{queueId, expectedPassword}}`.

Errors follow provisioning.panels.http: 423 (locked, "Do Not Disturb"), 429 and 5xx are
retried later, other 4xx are final and their `msg`/`errors`/`message` shown cleaned.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from django.conf import settings

from provisioning.errors import PanelError, PanelPermanentError
from provisioning.panels.base import AccountSpec, ProvisionResult, ServerCredentials, SettingSpec
from provisioning.panels.http import CREATE_TIMEOUT, PanelHttp, json_headers

PANEL = "VirtFusion"
BALANCE_TIMEOUT = 5  # the Billing page waits for the balance: fail fast, show "unreachable"
# Self-service access for users the portal creates: hourly billing paid from token credit.
SELF_SERVICE_HOURLY = 1


@dataclass(frozen=True)
class VirtFusionUser:
    id: int
    ext_relation_id: int
    email: str


def _json_number(value: Decimal) -> int | float:
    """JSON has one number type: send whole token counts as integers, others (quantized to
    0.01, whose shortest float repr is the same decimal) as numbers with decimals."""
    return int(value) if value == value.to_integral_value() else float(value)


def _user(data: dict[str, Any]) -> VirtFusionUser:
    return VirtFusionUser(
        id=int(data["id"]),
        ext_relation_id=int(data.get("extRelationId") or 0),
        email=data.get("email", ""),
    )


class VirtFusionClient:
    def __init__(self, *, base_url: str, api_token: str) -> None:
        self.http = PanelHttp(
            panel=PANEL,
            base_url=f"{base_url.rstrip('/')}/api/v1",
            headers=json_headers(bearer=api_token),
        )

    @classmethod
    def from_settings(cls) -> VirtFusionClient | None:
        """The site's VirtFusion panel, or None when none is configured."""
        if not (settings.VIRTFUSION_URL and settings.VIRTFUSION_API_TOKEN):
            return None
        return cls(base_url=settings.VIRTFUSION_URL, api_token=settings.VIRTFUSION_API_TOKEN)

    def test_connection(self) -> None:
        self.http.request("GET", "connect")

    # --- Users ------------------------------------------------------------------------

    def user_get(self, *, ext_relation_id: int) -> VirtFusionUser | None:
        """The user linked to our customer, or None (404) when there is none yet."""
        try:
            response = self.http.request("GET", f"users/{ext_relation_id}/byExtRelation")
        except PanelPermanentError as error:
            if error.status == 404:
                return None
            raise
        return _user(response.json()["data"])

    def user_ensure(self, *, ext_relation_id: int, name: str, email: str) -> VirtFusionUser:
        """Find the user by our customer id, or create it: look-up first, so repeating this
        after a lost answer finds the user the first call made instead of making a second."""
        found = self.user_get(ext_relation_id=ext_relation_id)
        if found is not None:
            return found
        response = self.http.request(
            "POST",
            "users",
            timeout=CREATE_TIMEOUT,
            json={
                "name": name,
                "email": email,
                "extRelationId": ext_relation_id,
                "selfService": SELF_SERVICE_HOURLY,
                "selfServiceHourlyCredit": True,
                "sendMail": False,
            },
        )
        return _user(response.json()["data"])

    # --- Self-service token credit ----------------------------------------------------

    def token_credit_add(
        self, *, ext_relation_id: int, tokens: Decimal, reference_1: int, reference_2: str
    ) -> int:
        """Add `tokens` to the user's hourly credit; returns VirtFusion's credit entry id.
        Not idempotent on VirtFusion's side: callers must not resend after a lost answer."""
        response = self.http.request(
            "POST",
            f"selfService/credit/byUserExtRelationId/{ext_relation_id}",
            json={
                "tokens": _json_number(tokens),
                "reference_1": reference_1,
                "reference_2": reference_2[:1000],
            },
        )
        return int(response.json()["data"]["id"])

    def token_credit_cancel(self, *, credit_id: int) -> None:
        self.http.request("DELETE", f"selfService/credit/{credit_id}")

    def token_balance(self, *, ext_relation_id: int) -> Decimal | None:
        """The user's token credit, or None when the user does not exist in VirtFusion.

        Read from the hourly statistics (`data.credit.value`, as in VirtFusion's OpenAPI
        description); the users endpoint does not carry it."""
        try:
            response = self.http.request(
                "GET",
                f"selfService/hourlyStats/byUserExtRelationId/{ext_relation_id}",
                timeout=BALANCE_TIMEOUT,
            )
        except PanelPermanentError as error:
            if error.status == 404:
                return None
            raise
        try:
            value = response.json()["data"]["credit"]["value"]
            return Decimal(str(value))
        except (KeyError, TypeError, ValueError, ArithmeticError) as error:
            raise PanelError(
                "VirtFusion's statistics did not include a credit balance.", retryable=False
            ) from error


# --- Server lifecycle (the panel module) ----------------------------------------------------

LABEL = "VirtFusion (VPS)"
PRODUCT_SETTINGS = (
    SettingSpec("package_id", "VirtFusion package id", kind=int),
    SettingSpec("hypervisor_group_id", "Hypervisor group id", kind=int),
    SettingSpec("os_template_id", "Operating system template id", kind=int),
    SettingSpec("ipv4", "IPv4 addresses", required=False, kind=int),
)
LOOKUPS = {"Packages": "packages", "Hypervisor groups": "hypervisor_groups"}
DELETE_DELAY_MINUTES = 5  # VirtFusion's own grace before it destroys the server
POWER_ACTIONS = ("boot", "shutdown", "restart", "poweroff")


class VirtFusionPanel:
    """VPS lifecycle on a VirtFusion control server. Create is find-or-create: the user by
    extRelationId, then the servers that user already owns and the portal has not linked to
    another service (`AccountSpec.settings["linked_external_ids"]`) are adopted first, so a
    create whose answer was lost is not made twice."""

    def __init__(self, credentials: ServerCredentials) -> None:
        self.client = VirtFusionClient(
            base_url=credentials.base_url, api_token=credentials.secrets["api_token"]
        )
        self.http = self.client.http
        self.base_url = credentials.base_url.rstrip("/")

    def test_connection(self) -> None:
        self.client.test_connection()

    def packages(self) -> list[dict[str, Any]]:
        return cast(list[dict[str, Any]], self.http.request("GET", "packages").json()["data"])

    def hypervisor_groups(self) -> list[dict[str, Any]]:
        response = self.http.request("GET", "compute/hypervisors/groups")
        return cast(list[dict[str, Any]], response.json()["data"])

    def _unlinked_server(self, user: VirtFusionUser, linked: set[str]) -> dict[str, Any] | None:
        servers = self.http.request("GET", f"servers/user/{user.id}").json()["data"]
        return next((s for s in servers if str(s["id"]) not in linked), None)

    def create(self, spec: AccountSpec) -> ProvisionResult:
        settings = spec.settings
        user = self.client.user_ensure(
            ext_relation_id=spec.customer_id, name=spec.name, email=spec.email
        )
        linked = {str(x) for x in settings.get("linked_external_ids", [])}
        server = self._unlinked_server(user, linked)
        if server is None:
            body = {
                "packageId": int(settings["package_id"]),
                "userId": user.id,
                "hypervisorId": int(settings["hypervisor_group_id"]),
            }
            if settings.get("ipv4"):
                body["ipv4"] = int(settings["ipv4"])
            server = self.http.request("POST", "servers", json=body, timeout=CREATE_TIMEOUT).json()[
                "data"
            ]
        if not server.get("built"):
            build = {
                "operatingSystemId": int(settings["os_template_id"]),
                "name": spec.reference,
                "hostname": spec.hostname or spec.reference,
                "email": True,
            }
            self.http.request(
                "POST", f"servers/{server['id']}/build", json=build, timeout=CREATE_TIMEOUT
            )
        return ProvisionResult(
            external_id=str(server["id"]),
            username=spec.email,
            panel_url=f"{self.base_url}/",
            details={"uuid": server.get("uuid", "")},
        )

    def _ok_if_gone(self, method: str, path: str, **kwargs: Any) -> None:
        try:
            self.http.request(method, path, **kwargs)
        except PanelPermanentError as error:
            if error.status != 404:
                raise

    def suspend(self, external_id: str, *, reason: str) -> None:
        self.http.request("POST", f"servers/{external_id}/suspend")

    def unsuspend(self, external_id: str) -> None:
        self.http.request("POST", f"servers/{external_id}/unsuspend")

    def terminate(self, external_id: str) -> None:
        self._ok_if_gone("DELETE", f"servers/{external_id}", params={"delay": DELETE_DELAY_MINUTES})

    def change_package(self, external_id: str, *, settings: dict[str, Any]) -> None:
        flags = {
            "cpu": True,
            "memory": True,
            "primaryDiskSize": True,
            "primaryNetworkTraffic": True,
        }
        self.http.request(
            "PUT", f"servers/{external_id}/package/{int(settings['package_id'])}", json=flags
        )  # 200 {info: []} or 204: both fine

    def power(self, external_id: str, *, action: str) -> None:
        self.vps_power(external_id, action=action)

    def login_url(self, external_id: str, *, spec: AccountSpec) -> str:
        answer = self.http.request(
            "POST",
            f"users/{spec.customer_id}/serverAuthenticationTokens/{external_id}",
        ).json()["data"]["authentication"]
        return cast(str, answer["endpoint_complete"])

    # --- Self-service (VpsControls; the contract is at the top of this module) ----------

    def _data(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return {}
        return response.json().get("data", {})

    def vps_server(self, external_id: str) -> dict[str, Any]:
        """The server's state, its plan's resources, the mounted ISO and live usage."""
        data = self._data("GET", f"servers/{external_id}", params={"remoteState": "true"})
        return server_summary(data)

    def vps_traffic(self, external_id: str) -> dict[str, Any]:
        """The current period's traffic (bytes) and its allowance (GB, 0 = unmetered)."""
        monthly = self._data("GET", f"servers/{external_id}/traffic").get("monthly") or []
        current = monthly[0] if monthly else {}
        return {
            "start": str(current.get("start", "")),
            "end": str(current.get("end", "")),
            "rx_bytes": int(current.get("rx") or 0),
            "tx_bytes": int(current.get("tx") or 0),
            "total_bytes": int(current.get("total") or 0),
            "limit_gb": int(current.get("limit") or 0),
        }

    def vps_power(self, external_id: str, *, action: str) -> None:
        if action not in POWER_ACTIONS:
            raise PanelPermanentError(f"Unknown power action {action!r}.")
        self.http.request("POST", f"servers/{external_id}/power/{action}")

    def vps_os_templates(self, external_id: str) -> list[dict[str, Any]]:
        """The templates the server may be reinstalled with, flat: `{id, name, group}`."""
        groups = self._data("GET", f"servers/{external_id}/templates") or []
        return [
            {"id": int(t["id"]), "name": _template_name(t), "group": str(g.get("name", ""))}
            for g in groups
            for t in g.get("templates") or []
        ]

    def vps_reinstall(
        self, external_id: str, *, os_template_id: int, hostname: str = ""
    ) -> dict[str, Any]:
        """Rebuild with a template. Returns `{"root_password"}` when the panel gives one;
        VirtFusion does not: it emails the owner the new credentials (`email: true`)."""
        body: dict[str, Any] = {"operatingSystemId": os_template_id, "email": True}
        if hostname:
            body["hostname"] = hostname
        self.http.request("POST", f"servers/{external_id}/build", json=body, timeout=CREATE_TIMEOUT)
        return {}

    def vps_console(self, external_id: str) -> dict[str, Any]:
        """Open VNC access (new credentials each time): address and password."""
        vnc = self._data("POST", f"servers/{external_id}/vnc", json={"vnc": True}).get("vnc", {})
        host = vnc.get("hostname") or vnc.get("ip") or ""
        if not host or not vnc.get("port"):
            raise PanelError("VirtFusion gave no console address.", retryable=False)
        return {"address": f"{host}:{vnc['port']}", "vnc_password": str(vnc.get("password", ""))}

    def vps_isos(self, external_id: str) -> list[dict[str, Any]]:
        isos = self._data("GET", "media/iso", params={"results": 200}) or []
        return [
            {"id": int(i["id"]), "name": str(i.get("name", ""))}
            for i in isos
            if i.get("enabled", True)
        ]

    def vps_iso_mount(self, external_id: str, *, iso_id: int) -> None:
        self.http.request("POST", f"servers/{external_id}/media/iso/{iso_id}")

    def vps_iso_unmount(self, external_id: str) -> None:
        self.http.request("DELETE", f"servers/{external_id}/media/iso")

    def vps_password_reset(self, external_id: str) -> dict[str, Any]:
        """A new root password, returned (not emailed) so the portal shows it once."""
        data = self._data(
            "POST",
            f"servers/{external_id}/resetPassword",
            json={"user": "root", "sendMail": False},
        )
        password = str(data.get("expectedPassword") or "")
        if not password:
            raise PanelError("VirtFusion did not return the new password.", retryable=False)
        return {"root_password": password}


def _template_name(template: dict[str, Any]) -> str:
    parts = (template.get("name"), template.get("version"), template.get("variant"))
    return " ".join(str(p) for p in parts if p)


def _mb(kib: Any) -> int | None:
    return int(kib) // 1024 if isinstance(kib, int | float) else None


def server_summary(data: dict[str, Any]) -> dict[str, Any]:
    """GET /servers/{id}?remoteState=true in the portal's units (None where not reported)."""
    resources = (data.get("settings") or {}).get("resources") or {}
    media = data.get("media") or {}
    # without the live state the field is a plain `false`
    raw_remote = data.get("remoteState")
    remote: dict[str, Any] = raw_remote if isinstance(raw_remote, dict) else {}
    memory = remote.get("memory") or {}
    available, unused = _mb(memory.get("available")), _mb(memory.get("unused"))
    filesystems = (remote.get("agent") or {}).get("fsinfo") or []
    disk_used = sum(int(f.get("used-bytes") or 0) for f in filesystems)
    cpu = remote.get("cpu")
    return {
        # `data.state` is the build's state ("complete"), not the power state
        "state": str(remote.get("state") or "unknown"),
        "name": str(data.get("name") or ""),
        "hostname": str(data.get("hostname") or ""),
        "cpu_cores": int(resources.get("cpuCores") or (data.get("cpu") or {}).get("cores") or 0),
        "memory_mb": int(resources.get("memory") or 0),
        "disk_gb": int(resources.get("storage") or 0),
        "traffic_gb": int(resources.get("traffic") or 0),
        "iso_mounted": bool(media.get("isoMounted")),
        "iso_name": str(media.get("isoName") or ""),
        "cpu_percent": round(float(cpu), 1) if isinstance(cpu, int | float) else None,
        "memory_used_mb": available - unused if available and unused is not None else None,
        "disk_used_gb": round(disk_used / 1024**3, 1) if filesystems else None,
    }
