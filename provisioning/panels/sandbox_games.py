"""The sandbox's imitation of the self-service calls of Pterodactyl (pterodactyl.py): the same
method names and answers, so a demo product standing in for that module shows every control
(provisioning.services.actions). Mixed into SandboxPanel.

The power state lives in Django's cache keyed by the external id (it is a demo); usage is
derived from it (a running server uses part of its limits, a stopped one nothing)."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache

from provisioning.errors import PanelPermanentError

SIGNALS = {"start": "running", "restart": "running", "stop": "offline", "kill": "offline"}
LIMITS = {"memory_mb": 4096, "disk_mb": 10240, "cpu_percent": 200}
RUNNING_USAGE = {"memory_mb": 1536, "disk_mb": 2310, "cpu_percent": 37.5, "uptime_seconds": 5400}


def _state_key(external_id: str) -> str:
    return f"sandbox:game:{external_id}:state"


class SandboxGames:
    def game_power_enabled(self) -> bool:
        return True

    def game_status(self, external_id: str) -> dict[str, Any]:
        state = cache.get(_state_key(external_id), "running")
        idle = {**dict.fromkeys(RUNNING_USAGE, 0), "disk_mb": RUNNING_USAGE["disk_mb"]}
        return {
            "state": state,
            "suspended": False,
            "limits": dict(LIMITS),
            "usage": dict(RUNNING_USAGE) if state == "running" else idle,
            "usage_notice": "",
            "power_allowed": True,
            "power_notice": "",
        }

    def game_power(self, external_id: str, *, signal: str) -> None:
        if signal not in SIGNALS:
            raise PanelPermanentError(f"Unknown power signal {signal!r}.")
        cache.set(_state_key(external_id), SIGNALS[signal], None)
