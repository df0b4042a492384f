"""The sandbox's imitation of the self-service calls of VirtFusion (virtfusion.py): the same
method names and answers, so a demo product standing in for that module shows every control
(provisioning.services.actions). Mixed into SandboxPanel.

What a real panel would remember (power state, the mounted ISO, the installed template) is
kept in Django's cache by the server's external id: it is a demo, and losing it only
brings the server back to "running, nothing mounted". Usage figures are derived from the
external id, so a page shows the same numbers on every visit."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from provisioning.errors import PanelPermanentError

# The sandbox plan: what the demo "vps-small" product sells.
PLAN = {"cpu_cores": 2, "memory_mb": 4096, "disk_gb": 60, "traffic_gb": 1000}
OS_TEMPLATES = (
    {"id": 101, "name": "Debian 12", "group": "Debian"},
    {"id": 102, "name": "Ubuntu 24.04 LTS", "group": "Ubuntu"},
    {"id": 103, "name": "AlmaLinux 9", "group": "AlmaLinux"},
)
ISOS = ({"id": 201, "name": "SystemRescue 11"}, {"id": 202, "name": "Debian 12 netinst"})
POWER_STATES = {
    "boot": "running",
    "restart": "running",
    "shutdown": "stopped",
    "poweroff": "stopped",
}
STATE_SECONDS = 30 * 24 * 3600


def _key(external_id: str) -> str:
    return f"sandbox:vps:{external_id}"


def _state(external_id: str) -> dict[str, Any]:
    return dict(cache.get(_key(external_id)) or {"power": "running", "iso": None})


def _save(external_id: str, state: dict[str, Any]) -> None:
    cache.set(_key(external_id), state, STATE_SECONDS)


def _seed(external_id: str) -> int:
    return int(hashlib.sha256(external_id.encode()).hexdigest()[:8], 16)


class SandboxVps:
    def vps_server(self, external_id: str) -> dict[str, Any]:
        state, seed = _state(external_id), _seed(external_id)
        running = state["power"] == "running"
        iso = next((i for i in ISOS if i["id"] == state["iso"]), None)
        return {
            "state": state["power"],
            "name": external_id,
            "hostname": "",
            **PLAN,
            "iso_mounted": iso is not None,
            "iso_name": iso["name"] if iso else "",
            "cpu_percent": round(3 + seed % 40 + (seed % 10) / 10, 1) if running else 0.0,
            "memory_used_mb": 300 + seed % 1200 if running else 0,
            "disk_used_gb": round(4 + (seed % 200) / 10, 1),
        }

    def vps_traffic(self, external_id: str) -> dict[str, Any]:
        today = timezone.localdate()
        rx = (_seed(external_id) % 300 + 20) * 1024**3
        tx = rx // 3
        return {
            "start": today.replace(day=1).isoformat(),
            "end": "",
            "rx_bytes": rx,
            "tx_bytes": tx,
            "total_bytes": rx + tx,
            "limit_gb": PLAN["traffic_gb"],
        }

    def vps_power(self, external_id: str, *, action: str) -> None:
        if action not in POWER_STATES:
            raise PanelPermanentError(f"Unknown power action {action!r}.")
        state = _state(external_id)
        state["power"] = POWER_STATES[action]
        _save(external_id, state)

    def vps_os_templates(self, external_id: str) -> list[dict[str, Any]]:
        return [dict(t) for t in OS_TEMPLATES]

    def vps_reinstall(
        self, external_id: str, *, os_template_id: int, hostname: str = ""
    ) -> dict[str, Any]:
        if os_template_id not in {t["id"] for t in OS_TEMPLATES}:
            raise PanelPermanentError("The operating system template was not found.", status=404)
        state = _state(external_id)
        state.update(power="running", template=os_template_id)
        _save(external_id, state)
        # VirtFusion emails the new password; the sandbox cannot, so it hands it back.
        return {"root_password": secrets.token_urlsafe(12)}

    def vps_console(self, external_id: str) -> dict[str, Any]:
        return {
            "address": f"127.0.0.1:{5900 + _seed(external_id) % 100}",
            "vnc_password": secrets.token_urlsafe(6),
        }

    def vps_isos(self, external_id: str) -> list[dict[str, Any]]:
        return [dict(i) for i in ISOS]

    def vps_iso_mount(self, external_id: str, *, iso_id: int) -> None:
        if iso_id not in {i["id"] for i in ISOS}:
            raise PanelPermanentError("The ISO was not found.", status=404)
        state = _state(external_id)
        state["iso"] = iso_id
        _save(external_id, state)

    def vps_iso_unmount(self, external_id: str) -> None:
        state = _state(external_id)
        state["iso"] = None
        _save(external_id, state)

    def vps_password_reset(self, external_id: str) -> dict[str, Any]:
        return {"root_password": secrets.token_urlsafe(12)}
