"""The support subscription backend (bearer token): a support key per subscription, shown to
the customer. Calls name the subscription by our service reference; 409 on create means it
exists (an earlier attempt whose answer was lost) and its key is read back.

Self-service (provisional: the backend's contract is not in external-apis.md):
- `GET /support/{service_id}` -> `{"service_id", "email", "tier", "status", "support_key"}`
  (the read `create` already relies on); the page shows status, tier and email from it;
- `POST /support/regenerate` body `{"service_id"}` -> `{"support_key": "<new key>"}`; the
  old key stops working at once. Sending it again makes another key, which the portal then
  stores: repeating it after a lost answer is safe."""

from __future__ import annotations

from typing import Any

from provisioning.errors import PanelPermanentError
from provisioning.panels.base import AccountSpec, ProvisionResult, ServerCredentials, SettingSpec
from provisioning.panels.http import PanelHttp, json_headers

PANEL = "Support backend"
LABEL = "Support subscriptions"
PRODUCT_SETTINGS = (
    SettingSpec("tier", "Support tier", required=False),
    # Read by the support desk: the tickets of a subscriber get the plan's priority and
    # response target (support/services.py).
    SettingSpec(
        "priority",
        "Ticket priority",
        required=False,
        help="low, normal, high or urgent (default normal)",
    ),
    SettingSpec(
        "response_hours",
        "Ticket response target (hours)",
        required=False,
        kind=int,
        help="How soon staff answer this plan's tickets (default SUPPORT_DEFAULT_RESPONSE_HOURS)",
    ),
)


class SupportBackend:
    def __init__(self, credentials: ServerCredentials) -> None:
        self.http = PanelHttp(
            panel=PANEL,
            base_url=credentials.base_url,
            headers=json_headers(bearer=credentials.secrets["token"]),
        )

    def test_connection(self) -> None:
        self.http.request("GET", "support/health")

    def create(self, spec: AccountSpec) -> ProvisionResult:
        body = {
            "service_id": spec.reference,
            "email": spec.email,
            "name": spec.name,
            "tier": spec.settings.get("tier", ""),
        }
        try:
            answer = self.http.request("POST", "support/create", json=body).json()
        except PanelPermanentError as error:
            if error.status != 409:
                raise
            answer = self.http.request("GET", f"support/{spec.reference}").json()
        return ProvisionResult(
            external_id=spec.reference, secrets={"support_key": answer["support_key"]}
        )

    def _post(self, action: str, external_id: str) -> None:
        self.http.request("POST", f"support/{action}", json={"service_id": external_id})

    def suspend(self, external_id: str, *, reason: str) -> None:
        self._post("suspend", external_id)

    def unsuspend(self, external_id: str) -> None:
        self._post("unsuspend", external_id)

    def terminate(self, external_id: str) -> None:
        self._post("terminate", external_id)

    def support_info(self, external_id: str) -> dict[str, Any]:
        answer = self.http.request("GET", f"support/{external_id}").json()
        return {key: str(answer.get(key) or "") for key in ("status", "tier", "email")}

    def support_key_regenerate(self, external_id: str) -> str:
        answer = self.http.request(
            "POST", "support/regenerate", json={"service_id": external_id}
        ).json()
        key = str(answer.get("support_key") or "")
        if not key:
            raise PanelPermanentError("The support backend gave no new key.")
        return key
