"""VirtFusion adapter (API v1, Bearer token): network I/O only.

Customers are linked by `extRelationId` = our customer id. `VirtFusionClient` holds the calls
the dual wallet needs (find-or-create of the user, self-service token credit, the token
balance); `VirtFusionPanel` is the provisioning module (servers: create and build, suspend,
unsuspend, delete with a delay, package change, power, login token).
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
        if action not in POWER_ACTIONS:
            raise PanelPermanentError(f"Unknown power action {action!r}.")
        self.http.request("POST", f"servers/{external_id}/power/{action}")

    def login_url(self, external_id: str, *, spec: AccountSpec) -> str:
        answer = self.http.request(
            "POST",
            f"users/{spec.customer_id}/serverAuthenticationTokens/{external_id}",
        ).json()["data"]["authentication"]
        return cast(str, answer["endpoint_complete"])
