"""The managed WordPress site backend (Proxmox-backed site API, bearer token).

Every call names the site by our service reference (`service_id`), so the backend's own
idempotency on that id makes a repeated create safe; a 409 ("exists") is adopted.
Plans (resources and quotas) live in the portal (`SitePlan`, editable by staff) and are sent
by name; the product setting `plan` picks one.
"""

from __future__ import annotations

from typing import Any

from provisioning.errors import PanelPermanentError
from provisioning.panels.base import AccountSpec, ProvisionResult, ServerCredentials, SettingSpec
from provisioning.panels.http import CREATE_TIMEOUT, PanelHttp, json_headers

PANEL = "WordPress backend"
LABEL = "Managed WordPress sites"
PRODUCT_SETTINGS = (SettingSpec("plan", "Site plan (basic, standard, premium, ...)"),)


class WordPressBackend:
    def __init__(self, credentials: ServerCredentials) -> None:
        self.public_ip = credentials.options.get("public_ip", "")
        self.http = PanelHttp(
            panel=PANEL,
            base_url=credentials.base_url,
            headers=json_headers(bearer=credentials.secrets["token"]),
        )

    def test_connection(self) -> None:
        self.http.request("GET", "health")

    def create(self, spec: AccountSpec) -> ProvisionResult:
        body = {
            "service_id": spec.reference,
            "email": spec.email,
            "plan": spec.settings["plan"],
            "public_ip": self.public_ip,
        }
        try:
            site = self.http.request("POST", "create-site", json=body, timeout=CREATE_TIMEOUT)
            answer = site.json() if site.content else {}
        except PanelPermanentError as error:
            if error.status != 409:
                raise
            answer = {}  # the site exists already: made by an attempt whose answer was lost
        return ProvisionResult(
            external_id=spec.reference,
            username=str(answer.get("username", "")),
            secrets={"password": answer["password"]} if answer.get("password") else {},
            panel_url=str(answer.get("admin_url") or answer.get("url") or ""),
            details={key: answer[key] for key in ("url", "ip") if key in answer},
        )

    def _site(self, path: str, external_id: str, **extra: Any) -> None:
        self.http.request("POST", path, json={"service_id": external_id, **extra})

    def suspend(self, external_id: str, *, reason: str) -> None:
        self._site("suspend", external_id)

    def unsuspend(self, external_id: str) -> None:
        self._site("unsuspend", external_id)

    def terminate(self, external_id: str) -> None:
        try:
            self._site("delete-site", external_id)
        except PanelPermanentError as error:
            if error.status != 404:
                raise

    def change_package(self, external_id: str, *, settings: dict[str, Any]) -> None:
        self._site("wp/upgrade/", external_id, plan=settings["plan"])
