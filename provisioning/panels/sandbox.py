"""The sandbox panel: no external system, used by `seed_demo` and `make run` so a new user
sees provisioning work end to end. It answers like a real panel would (idempotent create by
reference, suspend, unsuspend, terminate, package change, login link, usage) and keeps no
state beyond what the portal records. Its control panel is a page of the portal itself
(`provisioning:sandbox_panel`, the service's owner only), so no link leads off the machine.

The product setting `stands_in_for` names the real module a demo product imitates (a
support subscription gets a support key, the others a login and password)."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.urls import reverse

from provisioning.panels.base import AccountSpec, ProvisionResult, ServerCredentials, SettingSpec
from provisioning.panels.sandbox_games import SandboxGames
from provisioning.panels.sandbox_hosting import SandboxHosting
from provisioning.panels.sandbox_sites import SandboxSites
from provisioning.panels.sandbox_vps import SandboxVps

LABEL = "Sandbox (no external panel)"
PRODUCT_SETTINGS = (
    SettingSpec("plan", "Plan name", required=False, help="Shown only."),
    SettingSpec(
        "stands_in_for",
        "Module it imitates (e.g. directadmin, support)",
        required=False,
        help="Shown on the sandbox page; support: a support key.",
    ),
)


def sandbox_page(service_id: int) -> str:
    """The path of the service's sandbox control panel in the portal."""
    return reverse("provisioning:sandbox_panel", args=[service_id])


class SandboxPanel(SandboxSites, SandboxVps, SandboxGames, SandboxHosting):
    def __init__(self, credentials: ServerCredentials) -> None:
        self.credentials = credentials  # nothing to reach: the panel is the portal's page

    def test_connection(self) -> None:
        return None

    def create(self, spec: AccountSpec) -> ProvisionResult:
        # Derived from the reference, so creating twice "adopts" the same account.
        digest = hashlib.sha256(spec.reference.encode()).hexdigest()
        panel_url = f"{settings.PORTAL_BASE_URL}{sandbox_page(spec.service_id)}"
        if spec.settings.get("stands_in_for") == "support":
            return ProvisionResult(
                external_id=f"sandbox-{spec.reference}",
                panel_url=panel_url,
                secrets={"support_key": f"SK-{digest[:12].upper()}"},
            )
        return ProvisionResult(
            external_id=f"sandbox-{spec.reference}",
            username=f"user{spec.service_id}",
            secrets={"password": digest[:16]},
            panel_url=panel_url,
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
        # A path on whatever host the customer is using, so their session comes along.
        return sandbox_page(spec.service_id)

    def usage(self, external_id: str) -> dict[str, Any]:
        return {"disk_mb": 0, "bandwidth_mb": 0}
