"""NextPanel-style multi-server hosting panels (key `npk_` + secret `nps_` per server).

Provisional contract (external-apis.md §7: not confirmed against NextPanel itself). There is
no documented look-up by our reference, so adoption works through the username, derived
from our service id: a create repeated after a lost answer gets "already exists" and is
stopped for staff to link, never duplicated.

Self-service: `hosting_stats` reads `GET /api/v1/billing/accounts/{id}/stats` (the same
provisional call as `usage`): `total_domains`, `total_databases`, `total_email_accounts`,
`total_ssl_certificates`, `storage_used_mb`, `bandwidth_used_mb`, with limits where the
panel gives them as `max_domains`, `max_databases`, `max_email_accounts`,
`storage_limit_mb`, `bandwidth_limit_mb` (all provisional; a missing one shows as not
reported). There is no documented single sign-on: "Open control panel" opens the panel's
own login page (the panel URL recorded at creation).
"""

from __future__ import annotations

import secrets
from typing import Any

from provisioning.errors import PanelPermanentError
from provisioning.panels.base import AccountSpec, ProvisionResult, ServerCredentials, SettingSpec
from provisioning.panels.http import CREATE_TIMEOUT, PanelHttp

PANEL = "NextPanel"
LABEL = "NextPanel (multi-server hosting)"
PRODUCT_SETTINGS = (SettingSpec("package_id", "NextPanel package id", kind=int),)
STATS = (
    "total_domains",
    "total_databases",
    "total_email_accounts",
    "total_ssl_certificates",
    "storage_used_mb",
)


class NextPanel:
    def __init__(self, credentials: ServerCredentials) -> None:
        self.base_url = credentials.base_url.rstrip("/")
        self.http = PanelHttp(
            panel=PANEL,
            base_url=self.base_url,
            headers={
                "X-API-Key": credentials.secrets["api_key"],
                "X-API-Secret": credentials.secrets["api_secret"],
                "Content-Type": "application/json",
            },
        )

    def test_connection(self) -> None:
        self.http.request("GET", "api/health")

    def create(self, spec: AccountSpec) -> ProvisionResult:
        username = spec.username or f"np{spec.service_id}"
        password = secrets.token_urlsafe(12)
        body = {
            "username": username,
            "email": spec.email,
            "password": password,
            "full_name": spec.name,
            "package_id": int(spec.settings["package_id"]),
            "is_admin": False,
            "billing_id": spec.reference,
            "metadata": {"service_reference": spec.reference, "domain": spec.domain},
        }
        try:
            response = self.http.request(
                "POST", "api/v1/billing/accounts", json=body, timeout=CREATE_TIMEOUT
            )
        except PanelPermanentError as error:
            if error.status == 400 and "exist" in error.message.lower():
                raise PanelPermanentError(
                    f"NextPanel already has an account {username}. If an earlier attempt made "
                    "it, link it to this service (its id as the external id) and mark the "
                    "operation resolved.",
                    status=400,
                ) from error
            raise
        account = response.json()
        return ProvisionResult(
            external_id=str(account["id"]),
            username=username,
            secrets={"password": password},
            panel_url=self.base_url,
        )

    def suspend(self, external_id: str, *, reason: str) -> None:
        self.http.request(
            "POST",
            f"api/v1/billing/accounts/{external_id}/suspend",
            json={"reason": reason or "Suspended by billing"},
        )

    def unsuspend(self, external_id: str) -> None:
        self.http.request("POST", f"api/v1/billing/accounts/{external_id}/unsuspend")

    def terminate(self, external_id: str) -> None:
        try:
            self.http.request("DELETE", f"api/v1/billing/accounts/{external_id}")
        except PanelPermanentError as error:
            if error.status != 404:
                raise

    def usage(self, external_id: str) -> dict[str, Any]:
        stats = self.http.request("GET", f"api/v1/billing/accounts/{external_id}/stats").json()
        return {key: stats.get(key) for key in STATS}

    def hosting_stats(self, external_id: str) -> dict[str, Any]:
        stats = self.http.request("GET", f"api/v1/billing/accounts/{external_id}/stats").json()
        names = {
            "domains": ("total_domains", "max_domains"),
            "databases": ("total_databases", "max_databases"),
            "email_accounts": ("total_email_accounts", "max_email_accounts"),
            "ssl_certificates": ("total_ssl_certificates", ""),
            "storage_mb": ("storage_used_mb", "storage_limit_mb"),
            "bandwidth_mb": ("bandwidth_used_mb", "bandwidth_limit_mb"),
        }
        return {
            key: value
            for name, (used, limit) in names.items()
            for key, value in (
                (name, _whole(stats.get(used))),
                (f"{name}_limit", _whole(stats.get(limit))),
            )
        }


def _whole(value: Any) -> int | None:
    return round(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
