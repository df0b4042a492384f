"""Pterodactyl Panel adapter (application API, `ptla_` key): game servers.

Create is find-or-create at every step: the server is looked up by `external_id` = our
service reference and adopted when it exists (a create whose answer was lost), the user by
`external_id` = our customer reference, then by email.

Self-service (status, usage, power) -- the contract implemented here:

- Application API (confirmed, external-apis.md section 1): `GET /api/application/servers/{id}`
  gives `identifier`, `status` (null, installing, suspended...), `suspended` and
  `limits{memory, disk, cpu}` (MiB, MiB, percent; 0 = unlimited).
- Client API, only when the server's credentials also hold `client_api_key` (a `ptlc_` key
  of a user who may see the server, e.g. the root admin's), base `{panel}/api/client`, the
  same Bearer/JSON headers. The application API has no power or usage routes, so without
  that key the page shows the build limits and explains that power is not available.
  Provisional (panel source `routes/api-client.php`, `Servers/ResourceUtilizationController`,
  `Servers/PowerController`, and third-party clients; not in external-apis.md):
  - `GET /servers/{identifier}/resources` -> `{"object": "stats", "attributes":
    {"current_state": "running|starting|stopping|offline", "is_suspended": bool,
    "resources": {"memory_bytes", "cpu_absolute" (percent, 100 = one core), "disk_bytes",
    "network_rx_bytes", "network_tx_bytes", "uptime" (ms)}}}`; Wings down: 5xx (504);
  - `POST /servers/{identifier}/power` body `{"signal": "start|stop|restart|kill"}` -> 204;
  - 401/403 when the key may not act on the server (the key lacks the permission or the
    user has no access): power is then hidden with that explanation;
  - 409 while the server is installing, restoring a backup or being transferred
    (`ServerStateConflictException`): usage and power wait, with a notice.
"""

from __future__ import annotations

import secrets
from typing import Any, cast

from provisioning.errors import PanelError, PanelPermanentError
from provisioning.panels.base import AccountSpec, ProvisionResult, ServerCredentials, SettingSpec
from provisioning.panels.http import CREATE_TIMEOUT, PanelHttp, json_headers

PANEL = "Pterodactyl"
LABEL = "Pterodactyl (game servers)"
PRODUCT_SETTINGS = (
    SettingSpec("nest", "Nest id", kind=int),
    SettingSpec("egg", "Egg id", kind=int),
    SettingSpec("location", "Location id (deploy)", kind=int),
    SettingSpec("memory", "Memory (MiB)", kind=int),
    SettingSpec("disk", "Disk (MiB)", kind=int),
    SettingSpec("cpu", "CPU (%; 100 = one core)", kind=int),
    SettingSpec("swap", "Swap (MiB; -1 unlimited)", required=False, kind=int),
    SettingSpec("io", "Block IO weight (10-1000)", required=False, kind=int),
    SettingSpec("databases", "Databases", required=False, kind=int),
    SettingSpec("backups", "Backups", required=False, kind=int),
    SettingSpec("allocations", "Extra ports", required=False, kind=int),
    SettingSpec("docker_image", "Docker image (default: the egg's)", required=False),
)
LOOKUPS = {"Nests": "nests", "Locations": "locations", "Nodes": "nodes"}
POWER_SIGNALS = ("start", "stop", "restart", "kill")
MIB = 1024 * 1024
NO_CLIENT_KEY = (
    "Power controls are not set up for this game panel yet, so use the panel link to start "
    "or stop the server."
)
KEY_REFUSED = (
    "The game panel does not let us control this server for you, so use the panel link to "
    "start or stop it."
)


def _attributes(body: dict[str, Any]) -> dict[str, Any]:
    return cast(dict[str, Any], body["attributes"])


def _environment(egg: dict[str, Any]) -> dict[str, Any]:
    """Each egg variable at its default value."""
    variables = egg["relationships"]["variables"]["data"]
    return {v["attributes"]["env_variable"]: v["attributes"]["default_value"] for v in variables}


def limits_of(settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "memory": int(settings["memory"]),
        "swap": int(settings.get("swap", 0)),
        "disk": int(settings["disk"]),
        "io": int(settings.get("io", 500)),
        "cpu": int(settings["cpu"]),
    }


def feature_limits_of(settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "databases": int(settings.get("databases", 0)),
        "backups": int(settings.get("backups", 0)),
        "allocations": int(settings.get("allocations", 0)),
    }


class PterodactylPanel:
    def __init__(self, credentials: ServerCredentials) -> None:
        self.panel_url = credentials.base_url.rstrip("/")
        self.http = PanelHttp(
            panel=PANEL,
            base_url=f"{self.panel_url}/api/application",
            headers=json_headers(bearer=credentials.secrets["api_key"]),
        )
        client_key = credentials.secrets.get("client_api_key", "")
        self.client: PanelHttp | None = None
        if client_key:
            self.client = PanelHttp(
                panel=PANEL,
                base_url=f"{self.panel_url}/api/client",
                headers=json_headers(bearer=client_key),
            )

    def test_connection(self) -> None:
        self.http.request("GET", "locations", params={"per_page": 1})

    # --- look-ups for staff -----------------------------------------------------------

    def _list(self, path: str) -> list[dict[str, Any]]:
        body = self.http.request("GET", path, params={"per_page": 100}).json()
        return [_attributes(item) for item in body["data"]]

    def nests(self) -> list[dict[str, Any]]:
        return self._list("nests")

    def eggs(self, nest: int) -> list[dict[str, Any]]:
        return self._list(f"nests/{nest}/eggs")

    def locations(self) -> list[dict[str, Any]]:
        return self._list("locations")

    def nodes(self) -> list[dict[str, Any]]:
        return self._list("nodes")

    # --- lifecycle --------------------------------------------------------------------

    def _get_or_none(self, path: str) -> dict[str, Any] | None:
        try:
            return _attributes(self.http.request("GET", path).json())
        except PanelPermanentError as error:
            if error.status == 404:
                return None
            raise

    def _user(self, spec: AccountSpec) -> tuple[dict[str, Any], str]:
        """(user, password we set, or "" for an existing user)."""
        external = f"cust-{spec.customer_id}"
        user = self._get_or_none(f"users/external/{external}")
        if user is None:
            found = self.http.request("GET", "users", params={"filter[email]": spec.email}).json()
            user = _attributes(found["data"][0]) if found["data"] else None
        if user is not None:
            return user, ""
        password = secrets.token_urlsafe(12)
        first, _, last = spec.name.partition(" ")
        body = {
            "email": spec.email,
            "username": spec.username or f"c{spec.customer_id}",
            "first_name": first or "Customer",
            "last_name": last or str(spec.customer_id),
            "password": password,
            "external_id": external,
        }
        return _attributes(self.http.request("POST", "users", json=body).json()), password

    def _result(
        self, server: dict[str, Any], user: dict[str, Any], password: str
    ) -> ProvisionResult:
        return ProvisionResult(
            external_id=str(server["id"]),
            username=user.get("username", ""),
            secrets={"password": password} if password else {},
            panel_url=f"{self.panel_url}/server/{server['identifier']}",
            details={"uuid": server.get("uuid", "")},
        )

    def create(self, spec: AccountSpec) -> ProvisionResult:
        existing = self._get_or_none(f"servers/external/{spec.reference}")
        user, password = self._user(spec)
        if existing is not None:  # created before, answer lost: adopt it
            return self._result(existing, user, password)
        settings = spec.settings
        egg = self._egg(settings)
        body = {
            "name": spec.hostname or spec.reference,
            "user": user["id"],
            "egg": int(settings["egg"]),
            "docker_image": settings.get("docker_image") or egg["docker_image"],
            "startup": egg["startup"],
            "environment": _environment(egg),
            "limits": limits_of(settings),
            "feature_limits": feature_limits_of(settings),
            "deploy": {
                "locations": [int(settings["location"])],
                "dedicated_ip": False,
                "port_range": [],
            },
            "external_id": spec.reference,
            "start_on_completion": True,
        }
        response = self.http.request("POST", "servers", json=body, timeout=CREATE_TIMEOUT)
        return self._result(_attributes(response.json()), user, password)

    def suspend(self, external_id: str, *, reason: str) -> None:
        self.http.request("POST", f"servers/{external_id}/suspend")  # no-op if suspended

    def unsuspend(self, external_id: str) -> None:
        self.http.request("POST", f"servers/{external_id}/unsuspend")

    def terminate(self, external_id: str) -> None:
        try:
            self.http.request("DELETE", f"servers/{external_id}")
        except PanelPermanentError as error:
            if error.status != 404:  # already gone: what we wanted
                raise

    def change_package(self, external_id: str, *, settings: dict[str, Any]) -> None:
        """New limits (build); a new egg also gets its startup, image and variables."""
        server = _attributes(self.http.request("GET", f"servers/{external_id}").json())
        body = {
            "allocation": server["allocation"],
            "limits": limits_of(settings),
            "feature_limits": feature_limits_of(settings),
        }
        self.http.request("PATCH", f"servers/{external_id}/build", json=body)
        if int(settings.get("egg", server.get("egg") or 0)) != server.get("egg"):
            egg = self._egg(settings)
            startup = {
                "startup": egg["startup"],
                "environment": _environment(egg),
                "egg": int(settings["egg"]),
                "image": settings.get("docker_image") or egg["docker_image"],
                "skip_scripts": False,
            }
            self.http.request("PATCH", f"servers/{external_id}/startup", json=startup)

    def _egg(self, settings: dict[str, Any]) -> dict[str, Any]:
        response = self.http.request(
            "GET",
            f"nests/{settings['nest']}/eggs/{settings['egg']}",
            params={"include": "variables"},
        )
        return _attributes(response.json())

    def login_url(self, external_id: str, *, spec: AccountSpec) -> str:
        server = _attributes(self.http.request("GET", f"servers/{external_id}").json())
        return f"{self.panel_url}/server/{server['identifier']}"

    # --- self-service: status, usage, power (see the contract above) -------------------

    def game_power_enabled(self) -> bool:
        return self.client is not None

    def game_status(self, external_id: str) -> dict[str, Any]:
        server = _attributes(self.http.request("GET", f"servers/{external_id}").json())
        limits = server.get("limits") or {}
        status: dict[str, Any] = {
            "state": "installing" if server.get("status") == "installing" else "unknown",
            "suspended": bool(server.get("suspended")) or server.get("status") == "suspended",
            "limits": {
                "memory_mb": int(limits.get("memory") or 0),
                "disk_mb": int(limits.get("disk") or 0),
                "cpu_percent": int(limits.get("cpu") or 0),
            },
            "usage": None,
            "usage_notice": "",
            "power_allowed": False,
            "power_notice": NO_CLIENT_KEY,
        }
        if self.client is None:
            return status
        return {**status, **self._resources(str(server["identifier"]))}

    def _resources(self, identifier: str) -> dict[str, Any]:
        if self.client is None:
            return {}
        try:
            body = self.client.request("GET", f"servers/{identifier}/resources").json()
        except PanelPermanentError as error:
            if error.status in (401, 403):
                return {"power_notice": KEY_REFUSED}
            if error.status == 409:  # installing, restoring a backup, being transferred
                return {
                    "usage_notice": "The server is busy on the panel (installing, restoring "
                    "or moving); usage and power come back when it is done.",
                    "power_notice": "Power controls are paused while the panel works on "
                    "the server.",
                }
            raise
        except PanelError as error:  # Wings (the node) is down: limits without usage
            if not error.retryable:
                raise
            return {
                "usage_notice": "The game server's node is not answering, so usage is not shown.",
                "power_allowed": True,
                "power_notice": "",
            }
        attributes = _attributes(body)
        used = attributes.get("resources") or {}
        return {
            "state": str(attributes.get("current_state") or "unknown"),
            "suspended": bool(attributes.get("is_suspended")),
            "usage": {
                "memory_mb": round(int(used.get("memory_bytes") or 0) / MIB),
                "disk_mb": round(int(used.get("disk_bytes") or 0) / MIB),
                "cpu_percent": round(float(used.get("cpu_absolute") or 0), 1),
                "uptime_seconds": int(used.get("uptime") or 0) // 1000,
            },
            "power_allowed": True,
            "power_notice": "",
        }

    def game_power(self, external_id: str, *, signal: str) -> None:
        if signal not in POWER_SIGNALS:
            raise PanelPermanentError(f"Unknown power signal {signal!r}.")
        if self.client is None:
            raise PanelPermanentError(NO_CLIENT_KEY)
        server = _attributes(self.http.request("GET", f"servers/{external_id}").json())
        self.client.request(
            "POST", f"servers/{server['identifier']}/power", json={"signal": signal}
        )
