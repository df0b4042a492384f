"""The sandbox panel: no external system, used by `seed_demo` and `make run` so a new user
sees provisioning work end to end. It answers like a real panel would (idempotent create by
reference, suspend, unsuspend, terminate, package change, login link, usage) and keeps no
state beyond what the portal records."""

from __future__ import annotations

import hashlib
from typing import Any

from provisioning.panels.base import AccountSpec, ProvisionResult, ServerCredentials, SettingSpec

LABEL = "Sandbox (no external panel)"
PRODUCT_SETTINGS = (SettingSpec("plan", "Plan name", required=False, help="Shown only."),)


class SandboxPanel:
    def __init__(self, credentials: ServerCredentials) -> None:
        self.base_url = credentials.base_url.rstrip("/") or "https://sandbox.invalid"

    def test_connection(self) -> None:
        return None

    def create(self, spec: AccountSpec) -> ProvisionResult:
        # Derived from the reference, so creating twice "adopts" the same account.
        digest = hashlib.sha256(spec.reference.encode()).hexdigest()
        return ProvisionResult(
            external_id=f"sandbox-{spec.reference}",
            username=f"user{spec.service_id}",
            secrets={"password": digest[:16]},
            panel_url=f"{self.base_url}/accounts/{spec.reference}/",
        )

    def suspend(self, external_id: str, *, reason: str) -> None:
        return None

    def unsuspend(self, external_id: str) -> None:
        return None

    def terminate(self, external_id: str) -> None:
        return None

    def change_package(self, external_id: str, *, settings: dict[str, Any]) -> None:
        return None

    def login_url(self, external_id: str, *, spec: AccountSpec) -> str:
        return f"{self.base_url}/login/{external_id}/"

    def usage(self, external_id: str) -> dict[str, Any]:
        return {"disk_mb": 0, "bandwidth_mb": 0}
